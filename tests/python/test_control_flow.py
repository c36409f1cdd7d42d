"""ONNX If: both branches are imported and ssmc.Choose picks their outputs. A condition known at compile time
(derived from shapes, as exporters write them) compiles only the branch taken, whatever the other's shapes;
a run-time condition runs both and needs equal types. Compared with onnxruntime."""
import os
import subprocess

import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from ssmc_testing import SSMC, assert_close, compile_model, run_onnxruntime, save

RNG = np.random.default_rng(3)


def f32(name, dims):
    return h.make_tensor_value_info(name, T.FLOAT, dims)


def branch(name, nodes, outputs, inits=()):
    return h.make_graph(nodes, name, [], outputs, list(inits))


def model(nodes, inputs, outputs, inits=(), opset=18):
    return h.make_model(h.make_graph(nodes, "if", inputs, outputs, list(inits)), opset_imports=[h.make_opsetid("", opset)])


def run_time_if_model():
    """y = cond ? relu(x) * w_then : x + outer_bias (a branch initializer, an outer value read by name)."""
    then_branch = branch("then", [h.make_node("Relu", ["x"], ["r"]), h.make_node("Mul", ["r", "w_then"], ["t_out"])],
                         [f32("t_out", [2, 3])], [nh.from_array(np.full((2, 3), 3, np.float32), "w_then")])
    else_branch = branch("else", [h.make_node("Add", ["x", "outer_bias"], ["e_out"])], [f32("e_out", [2, 3])])
    nodes = [h.make_node("If", ["cond"], ["y"], name="choose", then_branch=then_branch, else_branch=else_branch),
             h.make_node("Neg", ["y"], ["z"])]
    return model(nodes, [h.make_tensor_value_info("cond", T.BOOL, []), f32("x", [2, 3])], [f32("z", [2, 3])],
                 [nh.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "outer_bias")])


def test_run_time_condition_takes_either_branch(tmp_path):
    m = run_time_if_model()
    compiled = compile_model(m, tmp_path)
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    for cond in (True, False):
        c = np.array(cond)
        assert_close(compiled.run(c, x)[0], run_onnxruntime(m, tmp_path, c, x)[0], what=f"cond {cond}")


def test_condition_from_shapes_compiles_only_the_branch_taken(tmp_path):
    """cond = (x.shape[1] == 4) on x [A, B] compiled at 3x4: the else branch, a Reshape that fits other sizes
    but not this one, is never compiled."""
    then_branch = branch("then", [h.make_node("ReduceSum", ["x", "axes"], ["t_out"], keepdims=0)], [f32("t_out", None)],
                         [nh.from_array(np.array([1], np.int64), "axes")])
    else_branch = branch("else", [h.make_node("Reshape", ["x", "other_shape"], ["e_out"])], [f32("e_out", None)],
                         [nh.from_array(np.array([7, -1], np.int64), "other_shape")])
    nodes = [
        h.make_node("Shape", ["x"], ["s"]), h.make_node("Gather", ["s", "one"], ["width"], axis=0),
        h.make_node("Equal", ["width", "four"], ["cond"]),
        h.make_node("If", ["cond"], ["y"], name="by_shape", then_branch=then_branch, else_branch=else_branch),
    ]
    m = model(nodes, [f32("x", ["A", "B"])], [f32("y", None)],
              [nh.from_array(np.array(1, np.int64), "one"), nh.from_array(np.array(4, np.int64), "four")])
    out = os.path.join(tmp_path, "compiled.ssmc")
    result = subprocess.run([SSMC, "compile", save(m, tmp_path), "--input-shape", "x=3x4", "--emit", "ir", "-o", out],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    ir = open(out).read()
    assert "Choose" not in ir and "Reshape" not in ir and "ReduceSum" in ir, ir
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    compiled = compile_model(m, tmp_path, "--input-shape", "x=3x4")
    assert_close(compiled.run(x)[0], run_onnxruntime(m, tmp_path, x)[0])


def test_nested_if(tmp_path):
    inner_then = branch("inner_then", [h.make_node("Neg", ["x"], ["a"])], [f32("a", [4])])
    inner_else = branch("inner_else", [h.make_node("Abs", ["x"], ["b"])], [f32("b", [4])])
    outer_then = branch("outer_then", [h.make_node("If", ["c2"], ["inner"], then_branch=inner_then, else_branch=inner_else)],
                        [f32("inner", [4])])
    outer_else = branch("outer_else", [h.make_node("Sigmoid", ["x"], ["s"])], [f32("s", [4])])
    m = model([h.make_node("If", ["c1"], ["y"], then_branch=outer_then, else_branch=outer_else)],
              [h.make_tensor_value_info("c1", T.BOOL, []), h.make_tensor_value_info("c2", T.BOOL, [1]), f32("x", [4])],
              [f32("y", [4])])
    compiled = compile_model(m, tmp_path)
    x = RNG.standard_normal(4).astype(np.float32)
    for c1 in (True, False):
        for c2 in (True, False):
            args = (np.array(c1), np.array([c2]), x)
            assert_close(compiled.run(*args)[0], run_onnxruntime(m, tmp_path, *args)[0], what=f"{c1} {c2}")


@pytest.mark.parametrize("case", ["shapes differ at run time", "unsupported op in a branch", "branch output count"])
def test_bad_if_is_reported(case, tmp_path):
    if case == "shapes differ at run time":
        then_branch = branch("then", [h.make_node("Identity", ["x"], ["t"])], [f32("t", [2, 3])])
        else_branch = branch("else", [h.make_node("Flatten", ["x"], ["e"], axis=0)], [f32("e", [1, 6])])
        needle = "the branches give f32[2,3] and f32[1,6] for output 0"
    elif case == "unsupported op in a branch":
        then_branch = branch("then", [h.make_node("Det", ["x"], ["t"], name="det")], [f32("t", None)])
        else_branch = branch("else", [h.make_node("Identity", ["x"], ["e"])], [f32("e", [2, 3])])
        needle = "Det"
    else:
        then_branch = branch("then", [h.make_node("Identity", ["x"], ["t"])], [f32("t", [2, 3])])
        else_branch = branch("else", [h.make_node("Identity", ["x"], ["e"]), h.make_node("Neg", ["x"], ["e2"])],
                             [f32("e", [2, 3]), f32("e2", [2, 3])])
        needle = "else_branch gives 2 outputs for the node's 1"
    m = model([h.make_node("If", ["cond"], ["y"], name="the_if", then_branch=then_branch, else_branch=else_branch)],
              [h.make_tensor_value_info("cond", T.BOOL, []), f32("x", [2, 3])], [f32("y", None)])
    lib = os.path.join(tmp_path, "lib.so")
    result = subprocess.run([SSMC, "compile", save(m, tmp_path), "-o", lib], capture_output=True, text=True)
    assert result.returncode == 1 and needle in result.stderr, result.stderr
    assert not os.path.exists(lib)


def i64(name, value):
    return nh.from_array(np.array(value, np.int64), name)


def accumulate_body(cond_out_nodes=(), cond_out="cond_in"):
    """acc_out = acc_in + x * i; rows = acc_out (a scan output); cond_out as given."""
    nodes = [h.make_node("Cast", ["i"], ["i_f"], to=T.FLOAT), h.make_node("Mul", ["x", "i_f"], ["xi"]),
             h.make_node("Add", ["acc_in", "xi"], ["acc_out"]), h.make_node("Identity", ["acc_out"], ["row"])]
    nodes += list(cond_out_nodes)
    if cond_out == "cond_in":
        nodes.append(h.make_node("Identity", ["cond_in"], ["cond_out"]))
    return h.make_graph(nodes, "body", [h.make_tensor_value_info("i", T.INT64, []), h.make_tensor_value_info("cond_in", T.BOOL, []),
                                        f32("acc_in", [3])],
                        [h.make_tensor_value_info("cond_out", T.BOOL, []), f32("acc_out", [3]), f32("row", [3])])


def loop_model(m_input, cond_input, body, extra_nodes=(), inputs=(), inits=()):
    nodes = list(extra_nodes) + [h.make_node("Loop", [m_input, cond_input, "acc0"], ["acc", "rows"], name="loop", body=body)]
    return model(nodes, [f32("x", [3]), f32("acc0", [3])] + list(inputs), [f32("acc", [3]), f32("rows", None)], inits)


def check_loop(m, tmp_path, *extra):
    x = RNG.standard_normal(3).astype(np.float32)
    acc0 = RNG.standard_normal(3).astype(np.float32)
    got = compile_model(m, tmp_path).run(x, acc0, *extra)
    want = run_onnxruntime(m, tmp_path, x, acc0, *extra)
    for k, (g, w) in enumerate(zip(got, want)):
        assert_close(g, w, what=f"output {k}")
    return got


def test_loop_with_a_constant_trip_count_is_unrolled(tmp_path):
    m = loop_model("m", "", accumulate_body(), inits=[i64("m", 5)])
    assert check_loop(m, tmp_path)[1].shape == (5, 3)


def test_loop_ends_when_its_condition_computed_from_the_counter_turns_false(tmp_path):
    """while i + 1 < 3 (within at most 100 iterations): three iterations, the condition folded in each."""
    cond_nodes = [h.make_node("Add", ["i", "one"], ["next"]), h.make_node("Less", ["next", "three"], ["cond_out"])]
    body = accumulate_body(cond_nodes, cond_out="computed")
    body.initializer.extend([i64("one", 1), i64("three", 3)])
    m = loop_model("m", "go", body, inits=[i64("m", 100), nh.from_array(np.array(True), "go")])
    assert check_loop(m, tmp_path)[1].shape == (3, 3)


def test_loop_trip_count_from_shapes(tmp_path):
    """M = x.shape[0] (computed by Shape -> Gather at import): three iterations."""
    extra = [h.make_node("Shape", ["x"], ["s"]), h.make_node("Gather", ["s", "zero"], ["m"], axis=0)]
    m = loop_model("m", "", accumulate_body(), extra_nodes=extra, inits=[i64("zero", 0)])
    assert check_loop(m, tmp_path)[1].shape == (3, 3)


@pytest.mark.parametrize("case, needle", [
    ("run-time trip count", "trip count M must be known at compile time"),
    ("too many iterations", "more than 1024 iterations"),
    ("run-time condition", "condition is computed at run time"),
])
def test_loops_ssmc_cannot_unroll_are_reported(case, needle, tmp_path):
    if case == "run-time trip count":
        m = loop_model("m", "", accumulate_body(), inputs=[h.make_tensor_value_info("m", T.INT64, [])])
    elif case == "too many iterations":
        m = loop_model("m", "", accumulate_body(), inits=[i64("m", 5000)])
    else:
        cond_nodes = [h.make_node("ReduceSum", ["acc_out"], ["total"], keepdims=0),
                      h.make_node("Less", ["total", "limit"], ["cond_out"])]
        body = accumulate_body(cond_nodes, cond_out="computed")
        body.initializer.append(nh.from_array(np.array(10, np.float32), "limit"))
        m = loop_model("m", "", body, inits=[i64("m", 4)])
    lib = os.path.join(tmp_path, "lib.so")
    result = subprocess.run([SSMC, "compile", save(m, tmp_path), "-o", lib], capture_output=True, text=True)
    assert result.returncode == 1 and needle in result.stderr and "Loop" in result.stderr, result.stderr
    assert not os.path.exists(lib)


def scan_body():
    """state s (3) and a running product p (3): s += x_t, p *= (1 + x_t); scan outputs s and s * 2."""
    nodes = [h.make_node("Add", ["s_in", "x_t"], ["s_out"]), h.make_node("Add", ["x_t", "one_f"], ["g"]),
             h.make_node("Mul", ["p_in", "g"], ["p_out"]), h.make_node("Mul", ["s_out", "two_f"], ["twice"])]
    return h.make_graph(nodes, "step", [f32("s_in", [3]), f32("p_in", [3]), f32("x_t", [3])],
                        [f32("s_out", [3]), f32("p_out", [3]), f32("s_out_copy", [3]), f32("twice", [3])],
                        [nh.from_array(np.array(1, np.float32), "one_f"), nh.from_array(np.array(2, np.float32), "two_f")])


def with_copy(body):
    body.node.append(h.make_node("Identity", ["s_out"], ["s_out_copy"]))
    return body


def test_scan_is_unrolled_in_every_direction(tmp_path):
    """Input scanned backwards along axis 1, outputs stacked along -1 and (reversed) along 0."""
    node = h.make_node("Scan", ["s0", "p0", "x"], ["s", "p", "rows", "twice"], num_scan_inputs=1, body=with_copy(scan_body()),
                       scan_input_axes=[1], scan_input_directions=[1], scan_output_axes=[-1, 0],
                       scan_output_directions=[0, 1])
    m = model([node], [f32("s0", [3]), f32("p0", [3]), f32("x", [3, 5])],
              [f32("s", [3]), f32("p", [3]), f32("rows", [3, 5]), f32("twice", [5, 3])])
    inputs = [RNG.standard_normal(3).astype(np.float32), np.ones(3, np.float32),
              (RNG.standard_normal((3, 5)) * 0.3).astype(np.float32)]
    got = compile_model(m, tmp_path).run(*inputs)
    for k, (g, w) in enumerate(zip(got, run_onnxruntime(m, tmp_path, *inputs))):
        assert_close(g, w, what=f"output {k}")


def test_scan_8_runs_each_batch_entry(tmp_path):
    """Opset 8's Scan: a batch axis 0 on every input and output, no sequence_lens (all full length)."""
    node = h.make_node("Scan", ["", "s0", "p0", "x"], ["s", "p", "rows", "twice"], num_scan_inputs=1,
                       body=with_copy(scan_body()), directions=[0])
    m = model([node], [f32("s0", [2, 3]), f32("p0", [2, 3]), f32("x", [2, 4, 3])],
              [f32("s", [2, 3]), f32("p", [2, 3]), f32("rows", [2, 4, 3]), f32("twice", [2, 4, 3])], opset=8)
    inputs = [RNG.standard_normal((2, 3)).astype(np.float32), np.ones((2, 3), np.float32),
              (RNG.standard_normal((2, 4, 3)) * 0.3).astype(np.float32)]
    got = compile_model(m, tmp_path).run(*inputs)
    for k, (g, w) in enumerate(zip(got, run_onnxruntime(m, tmp_path, *inputs))):
        assert_close(g, w, what=f"output {k}")
