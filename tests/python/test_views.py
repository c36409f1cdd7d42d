"""Views in the memory plan: Reshape/Flatten/Squeeze/Unsqueeze/Identity results and contiguous Slice/Split/
Gather results share their operand's memory instead of being copied. Results are checked against onnxruntime;
the emitted LLVM IR shows which nodes became views (they get no node function)."""
import os
import re
import subprocess

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from ssmc_testing import SSMC, assert_close, compile_model, run_onnxruntime, save


def const(name, values, dtype=np.int64):
    return numpy_helper.from_array(np.array(values, dtype), name)


def make(nodes, inputs, outputs, initializers):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
                              initializer=initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def node_functions(model, tmp_path):
    """Ops that got a node function in the emitted LLVM IR, e.g. {'Relu': 2, 'Slice': 1}."""
    path = save(model, tmp_path, "views.onnx")
    ll = os.path.join(str(tmp_path), "views.ll")
    result = subprocess.run([SSMC, "compile", path, "--emit", "llvm", "-o", ll], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    counts = {}
    for line in open(ll):
        match = re.match(r'define internal .*@"?node\.\d+\.([\w.]+?)"?\(', line)
        if match:
            counts[match.group(1)] = counts.get(match.group(1), 0) + 1
    return counts


def check(model, tmp_path, *inputs):
    compiled = compile_model(model, tmp_path, threads=1)
    got = compiled.run(*inputs)
    want = run_onnxruntime(model, tmp_path, *inputs)
    for i, (g, w) in enumerate(zip(got, want)):
        assert_close(g, w, rtol=1e-6, atol=1e-6, what=f"output {i}")


def test_reshape_chain_and_contiguous_cuts_are_views(tmp_path):
    # x -> Relu -> Reshape -> Unsqueeze -> Slice(outer half) -> Split(axis 2, leading dims 1) -> Gather(const)
    # while the first Relu result stays needed at the end (its memory must outlive the views).
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Reshape", ["r", "shape"], ["a"]),            # 1x8x6 -> 8x6
        helper.make_node("Unsqueeze", ["a", "zero"], ["b"]),          # 1x8x6
        helper.make_node("Slice", ["b", "s_start", "s_end", "s_axes"], ["c"]),  # 1x4x6 rows 2..6: contiguous
        helper.make_node("Flatten", ["c"], ["d"], axis=0),           # 1x24
        helper.make_node("Split", ["d", "split"], ["e", "f"], axis=1),  # 1x10, 1x14
        helper.make_node("Neg", ["e"], ["ne"]),
        helper.make_node("Neg", ["f"], ["nf"]),
        helper.make_node("Gather", ["r", "g_index"], ["g"], axis=1),  # row 3 of 1x8x6: 1x6
        helper.make_node("Identity", ["g"], ["h"]),
        helper.make_node("Squeeze", ["h", "zero"], ["i"]),
        helper.make_node("Relu", ["i"], ["ri"]),
        helper.make_node("Mul", ["r", "r"], ["late"]),
    ]
    init = [const("shape", [8, 6]), const("zero", [0]), const("s_start", [2]), const("s_end", [6]), const("s_axes", [1]),
            const("split", [10, 14]), const("g_index", 3)]
    model = make(nodes, [("x", [1, 8, 6])], ["ne", "nf", "ri", "late"], init)
    x = np.random.default_rng(0).standard_normal((1, 8, 6)).astype(np.float32)
    check(model, tmp_path, x)
    functions = node_functions(model, tmp_path)
    assert functions == {"Relu": 2, "Neg": 2, "Mul": 1}, functions


def test_cuts_that_are_not_contiguous_are_copied(tmp_path):
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Slice", ["r", "start", "end", "axes", "steps"], ["flip"]),  # reversed: not a view
        helper.make_node("Slice", ["r", "zero", "three", "two"], ["inner"]),          # cuts the last dim: not a view
        helper.make_node("Split", ["r", "split"], ["a", "b"], axis=1),               # leading dim 2: not views
        helper.make_node("Gather", ["r", "index"], ["g"], axis=2),                   # inner axis: not a view
        helper.make_node("Neg", ["flip"], ["o1"]), helper.make_node("Neg", ["inner"], ["o2"]),
        helper.make_node("Neg", ["a"], ["o3"]), helper.make_node("Neg", ["b"], ["o4"]), helper.make_node("Neg", ["g"], ["o5"]),
    ]
    init = [const("start", [-1]), const("end", [-100]), const("axes", [1]), const("steps", [-1]), const("zero", [0]),
            const("three", [3]), const("two", [2]), const("split", [1, 3]), const("index", -2)]
    model = make(nodes, [("x", [2, 4, 5])], ["o1", "o2", "o3", "o4", "o5"], init)
    check(model, tmp_path, np.random.default_rng(1).standard_normal((2, 4, 5)).astype(np.float32))
    functions = node_functions(model, tmp_path)
    assert functions.get("Slice") == 2 and functions.get("Split") == 1 and functions.get("Gather") == 1, functions


def test_views_of_inputs_constants_and_outputs(tmp_path):
    w = numpy_helper.from_array(np.arange(24, dtype=np.float32).reshape(4, 6), "w")
    nodes = [
        helper.make_node("Reshape", ["x", "shape"], ["xr"]),     # view of a graph input
        helper.make_node("Reshape", ["w", "shape"], ["wr"]),     # of a constant: folded at compile time
        helper.make_node("Add", ["xr", "wr"], ["sum"]),          # a graph output...
        helper.make_node("Reshape", ["sum", "back"], ["view_of_output"]),  # ...viewed: reads the caller's buffer
        helper.make_node("Neg", ["view_of_output"], ["neg"]),
        helper.make_node("Reshape", ["neg", "shape"], ["out_reshape"]),    # a view that is an output: copied
        helper.make_node("Split", ["sum", "split"], ["s0", "s1"], axis=0),  # one result is an output: copies both
        helper.make_node("Neg", ["s1"], ["ns1"]),
    ]
    init = [w, const("shape", [24]), const("back", [4, 6]), const("split", [10, 14])]
    model = make(nodes, [("x", [4, 6])], ["sum", "out_reshape", "s0", "ns1"], init)
    check(model, tmp_path, np.random.default_rng(2).standard_normal((4, 6)).astype(np.float32))
    functions = node_functions(model, tmp_path)
    assert functions.get("Reshape") == 1 and functions.get("Split") == 1, functions


def test_transposes_read_by_matmul_are_strided_views(tmp_path):
    rng = np.random.default_rng(3)
    w = numpy_helper.from_array(rng.standard_normal((16, 24)).astype(np.float32), "w")
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),                                  # 2x3x16x40
        helper.make_node("Transpose", ["r"], ["rt"], perm=[0, 1, 3, 2]),         # 2x3x40x16: A of two MatMuls
        helper.make_node("MatMul", ["rt", "w"], ["y1"]),                          # packed kernel, strided A
        helper.make_node("Transpose", ["y1"], ["y1t"], perm=[1, 0, 3, 2]),       # 3x2x24x40: B of the next one
        helper.make_node("MatMul", ["q", "y1t"], ["y2"]),                         # q 5x24 broadcast, strided B
        helper.make_node("Transpose", ["r"], ["rs"], perm=[2, 0, 1, 3]),         # 16x2x3x40: a Relu reads it
        helper.make_node("Relu", ["rs"], ["o3"]),
        helper.make_node("Transpose", ["v"], ["vt"], perm=[1, 0]),               # 1-D B after a 2-D transpose
        helper.make_node("Reshape", ["vt", "flat"], ["vt2"]),
        helper.make_node("MatMul", ["rt", "vt2"], ["o4"]),
    ]
    model = make(nodes, [("x", [2, 3, 16, 40]), ("q", [5, 24]), ("v", [16, 1])], ["y2", "o3", "o4", "rt"],
                 [w, const("flat", [16])])
    check(model, tmp_path, rng.standard_normal((2, 3, 16, 40)).astype(np.float32),
          rng.standard_normal((5, 24)).astype(np.float32), rng.standard_normal((16, 1)).astype(np.float32))
    functions = node_functions(model, tmp_path)
    # rt is an output (copied, so its Transpose runs); y1t is a strided view; rs feeds a Relu (copied);
    # vt feeds a Reshape (copied).
    assert functions.get("Transpose") == 3 and functions.get("MatMul") == 3, functions
