"""ONNX sequence ops, kept by the importer as lists of tensors (lengths and positions known at compile time):
SequenceConstruct/Empty/Length/At/Insert/Erase, SplitToSequence, ConcatFromSequence, sequences carried through
an unrolled Loop and passed through an If with a compile-time condition. Compared with onnxruntime; graph
outputs are tensors (ssmc compiles no sequence outputs), so each model ends in SequenceAt, SequenceLength or
ConcatFromSequence."""
import os
import subprocess

import numpy as np
import pytest
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh
from onnx.reference import ReferenceEvaluator

from ssmc_testing import SSMC, assert_close, compile_model, run_onnxruntime, save

RNG = np.random.default_rng(11)


def f32(name, dims):
    return h.make_tensor_value_info(name, T.FLOAT, dims)


def i64(name, value):
    return nh.from_array(np.array(value, np.int64), name)


def model(nodes, inputs, outputs, inits=(), opset=18):
    return h.make_model(h.make_graph(nodes, "seq", inputs, outputs, list(inits)), opset_imports=[h.make_opsetid("", opset)])


def check(m, tmp_path, *inputs, reference="onnxruntime"):
    compiled = compile_model(m, tmp_path)
    actual = compiled.run(*inputs)
    if reference == "onnxruntime":
        expected = run_onnxruntime(m, tmp_path, *inputs)
    else:
        names = [i.name for i in m.graph.input if i.name not in {t.name for t in m.graph.initializer}]
        expected = ReferenceEvaluator(m).run(None, dict(zip(names, inputs)))
    assert len(actual) == len(expected)
    for k, (a, e) in enumerate(zip(actual, expected)):
        assert a.shape == e.shape, f"output {k}: {a.shape} vs {e.shape}"
        assert_close(a, e, what=f"output {k}")


# (insert position or None, erase position or None, SequenceAt position), on [a, b] with c inserted, then a
# appended, then one erased: a 4-element list before the erase.
EDITS = [(None, None, 0), (0, 0, -1), (-1, -3, -2), (2, -1, 2), (-2, 3, -3), (1, None, 1)]


@pytest.mark.parametrize("insert_at,erase_at,at", EDITS)
def test_construct_insert_erase_at(insert_at, erase_at, at, tmp_path):
    inits = [i64("at", at)]
    insert_inputs = ["s0", "c"]
    if insert_at is not None:
        inits.append(i64("insert_at", insert_at))
        insert_inputs.append("insert_at")
    erase_inputs = ["s2"]
    if erase_at is not None:
        inits.append(i64("erase_at", erase_at))
        erase_inputs.append("erase_at")
    nodes = [
        h.make_node("SequenceConstruct", ["a", "b"], ["s0"]),
        h.make_node("SequenceInsert", insert_inputs, ["s1"]),
        h.make_node("SequenceInsert", ["s1", "a"], ["s2"]),
        h.make_node("SequenceErase", erase_inputs, ["s3"]),
        h.make_node("SequenceAt", ["s3", "at"], ["picked"]),
        h.make_node("SequenceLength", ["s3"], ["length"]),
        h.make_node("ConcatFromSequence", ["s3"], ["joined"], axis=0),
    ]
    m = model(nodes, [f32("a", [2, 3]), f32("b", [2, 3]), f32("c", [2, 3])],
              [f32("picked", [2, 3]), h.make_tensor_value_info("length", T.INT64, []), f32("joined", [6, 3])], inits)
    a, b, c = (RNG.standard_normal((2, 3)).astype(np.float32) for _ in range(3))
    check(m, tmp_path, a, b, c)


SPLITS = [
    (None, 1, 1), (None, 0, 1), (None, 0, -1), (None, 1, -2),
    (2, 1, 1), (2, 0, 1),  # a scalar split: pieces of 2 and a last one of 1 (keepdims ignored)
    ([1, 3, 1], 1, 1), ([2, 3], 0, -2),
]


@pytest.mark.parametrize("split,keepdims,axis", SPLITS)
def test_split_to_sequence(split, keepdims, axis, tmp_path):
    """x [3, 5, 2]: axis 1 (or -2) has 5. The pieces are joined back (stacked along a new axis when squeezed)."""
    inits = []
    inputs = ["x"]
    if split is not None:
        inits.append(i64("split", split))
        inputs.append("split")
    squeezed = split is None and keepdims == 0
    nodes = [
        h.make_node("SplitToSequence", inputs, ["pieces"], axis=axis, keepdims=keepdims),
        h.make_node("SequenceAt", ["pieces", "last"], ["tail"]),
        h.make_node("SequenceLength", ["pieces"], ["count"]),
        h.make_node("ConcatFromSequence", ["pieces"], ["joined"], axis=axis, new_axis=1 if squeezed else 0),
    ]
    inits.append(i64("last", -1))
    m = model(nodes, [f32("x", [3, 5, 2])],
              [f32("tail", None), h.make_tensor_value_info("count", T.INT64, []), f32("joined", None)], inits)
    # onnxruntime 1.31 squeezes pieces of a scalar split when keepdims=0, which ONNX says to ignore then;
    # the ONNX reference evaluator follows the spec.
    reference = "onnx reference" if split is not None and keepdims == 0 else "onnxruntime"
    check(m, tmp_path, RNG.standard_normal((3, 5, 2)).astype(np.float32), reference=reference)


@pytest.mark.parametrize("axis,new_axis", [(0, 1), (2, 1), (-1, 1), (-3, 1), (1, 0), (-1, 0)])
def test_concat_from_sequence(axis, new_axis, tmp_path):
    nodes = [h.make_node("SequenceConstruct", ["a", "b", "c"], ["s"]),
             h.make_node("ConcatFromSequence", ["s"], ["y"], axis=axis, new_axis=new_axis)]
    m = model(nodes, [f32("a", [2, 3]), f32("b", [2, 3]), f32("c", [2, 3])], [f32("y", None)])
    check(m, tmp_path, *(RNG.standard_normal((2, 3)).astype(np.float32) for _ in range(3)))


def test_sequence_carried_through_loop(tmp_path):
    """seq starts empty; each of 4 iterations inserts x * i at the front and y at the back, then erases the
    element at position -(i + 1), a position computed from the iteration counter; the lengths are scanned."""
    body = h.make_graph(
        [
            h.make_node("Cast", ["i"], ["i_f"], to=T.FLOAT),
            h.make_node("Mul", ["x", "i_f"], ["xi"]),
            h.make_node("SequenceInsert", ["seq_in", "xi", "zero"], ["s1"]),
            h.make_node("SequenceInsert", ["s1", "y"], ["s2"]),
            # Erase position -(i+1): depends on the counter, so known only per unrolled copy.
            h.make_node("Add", ["i", "one"], ["i1"]),
            h.make_node("Neg", ["i1"], ["pos"]),
            h.make_node("SequenceErase", ["s2", "pos"], ["seq_out"]),
            h.make_node("Identity", ["cond_in"], ["cond_out"]),
            h.make_node("SequenceLength", ["seq_out"], ["n"]),
        ],
        "body",
        [h.make_tensor_value_info("i", T.INT64, []), h.make_tensor_value_info("cond_in", T.BOOL, []),
         h.make_tensor_sequence_value_info("seq_in", T.FLOAT, [2])],
        [h.make_tensor_value_info("cond_out", T.BOOL, []), h.make_tensor_sequence_value_info("seq_out", T.FLOAT, [2]),
         h.make_tensor_value_info("n", T.INT64, [])],
        [i64("zero", 0), i64("one", 1)],
    )
    nodes = [
        h.make_node("SequenceEmpty", [], ["empty"], dtype=T.FLOAT),
        h.make_node("Loop", ["trips", "go", "empty"], ["final", "lengths"], body=body),
        h.make_node("ConcatFromSequence", ["final"], ["stacked"], axis=0, new_axis=1),
    ]
    m = model(nodes, [f32("x", [2]), f32("y", [2])], [f32("stacked", None), h.make_tensor_value_info("lengths", T.INT64, None)],
              [i64("trips", 4), nh.from_array(np.array(True), "go")])
    check(m, tmp_path, *(RNG.standard_normal(2).astype(np.float32) for _ in range(2)))


def if_with_sequences(cond_input):
    then_branch = h.make_graph([h.make_node("SequenceConstruct", ["a", "b"], ["t"])], "then", [],
                               [h.make_tensor_sequence_value_info("t", T.FLOAT, [2])])
    else_branch = h.make_graph([h.make_node("SequenceConstruct", ["b", "a", "b"], ["e"])], "else", [],
                               [h.make_tensor_sequence_value_info("e", T.FLOAT, [2])])
    nodes = [h.make_node("If", ["cond"], ["s"], name="seq_if", then_branch=then_branch, else_branch=else_branch),
             h.make_node("ConcatFromSequence", ["s"], ["y"], axis=0)]
    inputs = [f32("a", [2]), f32("b", [2])]
    inits = []
    if cond_input:
        inputs.insert(0, h.make_tensor_value_info("cond", T.BOOL, []))
    else:
        nodes.insert(0, h.make_node("Greater", ["three", "two"], ["cond"]))
        inits = [i64("three", 3), i64("two", 2)]
    return model(nodes, inputs, [f32("y", None)], inits)


def test_if_with_compile_time_condition_passes_a_sequence(tmp_path):
    check(if_with_sequences(cond_input=False), tmp_path, *(RNG.standard_normal(2).astype(np.float32) for _ in range(2)))


def compile_error(m, tmp_path):
    lib = os.path.join(tmp_path, "lib.so")
    result = subprocess.run([SSMC, "compile", save(m, tmp_path), "-o", lib], capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert not os.path.exists(lib)
    return result.stderr


def test_if_with_run_time_condition_and_sequence_is_an_error(tmp_path):
    err = compile_error(if_with_sequences(cond_input=True), tmp_path)
    assert "seq_if" in err and "condition must be known at compile time" in err, err


@pytest.mark.parametrize("case", ["run-time position", "out of range", "sequence output"])
def test_bad_sequences_are_reported(case, tmp_path):
    inputs = [f32("a", [2]), f32("b", [2])]
    outputs = [f32("y", [2])]
    inits = []
    nodes = [h.make_node("SequenceConstruct", ["a", "b"], ["s"], name="make")]
    if case == "run-time position":
        inputs.append(h.make_tensor_value_info("p", T.INT64, []))
        nodes.append(h.make_node("SequenceAt", ["s", "p"], ["y"], name="pick"))
        needle = ["pick", "position must be a single integer known at compile time"]
    elif case == "out of range":
        inits = [i64("p", -3)]
        nodes.append(h.make_node("SequenceAt", ["s", "p"], ["y"], name="pick"))
        needle = ["pick", "position -3 is out of range for a sequence of 2"]
    else:
        outputs = [h.make_tensor_sequence_value_info("s", T.FLOAT, [2])]
        needle = ["graph output 's' is a sequence"]
    err = compile_error(model(nodes, inputs, outputs, inits), tmp_path)
    assert all(n in err for n in needle), err


@pytest.fixture(scope="module")
def onnx_node_cases():
    from onnx.backend.test.case import node as node_cases
    return {c.name: c for c in node_cases.collect_testcases()}


# ONNX backend node cases whose sequence output (or input) keeps onnx_backend_tests.py from running them. Here
# their inputs named below become constants holding the case's data (as the runner promotes shape inputs), an
# empty sequence input becomes a SequenceEmpty node,
# and the sequence output becomes one SequenceAt output per element, compared with the case's expected data.
PROMOTED = {"test_split_to_sequence_1": {"split"}, "test_split_to_sequence_2": {"split"},
            "test_split_to_sequence_nokeepdims": set(), "test_if_seq": {"cond"},
            "test_loop13_seq": {"trip_count", "cond"}}


@pytest.mark.parametrize("name", sorted(PROMOTED))
def test_onnx_backend_sequence_cases(name, onnx_node_cases, tmp_path):
    case = onnx_node_cases[name]
    for k, (inputs, outputs) in enumerate(case.data_sets):
        m = onnx.ModelProto()
        m.CopyFrom(case.model)
        g = m.graph
        runtime = []
        for vi, value in zip(list(g.input), inputs):
            if vi.type.WhichOneof("value") == "sequence_type":
                assert len(value) == 0, "only empty sequence inputs can be rebuilt"
                g.node.insert(0, h.make_node("SequenceEmpty", [], [vi.name], dtype=vi.type.sequence_type.elem_type.tensor_type.elem_type))
                g.input.remove(vi)
            elif vi.name in PROMOTED[name]:
                g.initializer.append(nh.from_array(np.asarray(value), vi.name))
                g.input.remove(vi)
            else:
                runtime.append(np.asarray(value))
        (sequence_output,) = g.output
        expected = outputs[0]
        del g.output[:]
        for j, element in enumerate(expected):
            g.initializer.append(i64(f"position_{j}", j))
            g.node.append(h.make_node("SequenceAt", [sequence_output.name, f"position_{j}"], [f"element_{j}"]))
            g.output.append(h.make_tensor_value_info(f"element_{j}", T.FLOAT, None))
        directory = os.path.join(tmp_path, f"data_set_{k}")
        os.makedirs(directory)
        compiled = compile_model(m, directory)
        actual = compiled.run(*runtime)
        assert len(actual) == len(expected)
        for j, (a, e) in enumerate(zip(actual, expected)):
            assert a.shape == e.shape, f"element {j}: {a.shape} vs {e.shape}"
            assert_close(a, e, what=f"data set {k} element {j}")
