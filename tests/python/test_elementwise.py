"""Elementwise ops against onnxruntime: broadcasting, every activation's attributes, comparisons, casts."""
import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from ssmc_testing import assert_close, compile_model, run_onnxruntime

rng = np.random.default_rng(0)


def single_node_model(op, inputs, attrs=None, opset=20, out_type=T.FLOAT, n_inputs=None):
    names = [f"x{i}" for i in range(len(inputs))]
    infos = [h.make_tensor_value_info(n, {np.float32: T.FLOAT, np.int64: T.INT64, np.bool_: T.BOOL, np.int32: T.INT32}[a.dtype.type], a.shape)
             for n, a in zip(names, inputs)]
    node = h.make_node(op, names, ["y"], name=f"{op.lower()}0", **(attrs or {}))
    graph = h.make_graph([node], "g", infos, [h.make_tensor_value_info("y", out_type, None)])
    return h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])


UNARY = [
    ("Relu", {}), ("Exp", {}), ("Tanh", {}), ("Sigmoid", {}), ("Erf", {}), ("Abs", {}), ("Neg", {}),
    ("Softplus", {}), ("Softsign", {}), ("Floor", {}), ("Ceil", {}), ("Round", {}), ("Sign", {}),
    ("LeakyRelu", {"alpha": 0.2}), ("Elu", {"alpha": 0.7}), ("Selu", {}), ("Celu", {"alpha": 1.3}),
    ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}), ("HardSwish", {}), ("Mish", {}),
    ("Gelu", {}), ("Gelu", {"approximate": "tanh"}), ("ThresholdedRelu", {"alpha": 0.5}), ("Identity", {}),
]


@pytest.mark.parametrize("op,attrs", UNARY, ids=[f"{o}-{a}" for o, a in UNARY])
def test_unary_matches_onnxruntime(op, attrs, tmp_path):
    x = (rng.standard_normal((3, 37)) * 3).astype(np.float32)
    model = single_node_model(op, [x], attrs)
    got = compile_model(model, tmp_path).run(x)[0]
    want = run_onnxruntime(model, tmp_path, x)[0]
    assert_close(got, want, rtol=2e-6, atol=2e-6, what=op)


@pytest.mark.parametrize("op", ["Log", "Sqrt", "Reciprocal"])
def test_unary_positive_domain(op, tmp_path):
    x = rng.uniform(0.01, 50, (5, 33)).astype(np.float32)
    model = single_node_model(op, [x])
    assert_close(compile_model(model, tmp_path).run(x)[0], run_onnxruntime(model, tmp_path, x)[0], rtol=2e-6, what=op)


@pytest.mark.parametrize("shapes", [((2, 3, 4), (4,)), ((2, 1, 4), (1, 3, 1)), ((5,), (2, 3, 5)), ((), (3, 2)), ((17, 1), (1, 19))])
@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Max", "Min"])
def test_binary_broadcasting(op, shapes, tmp_path):
    a = rng.standard_normal(shapes[0]).astype(np.float32)
    b = rng.uniform(0.5, 2, shapes[1]).astype(np.float32)
    model = single_node_model(op, [a, b])
    assert_close(compile_model(model, tmp_path).run(a, b)[0], run_onnxruntime(model, tmp_path, a, b)[0], what=op)


@pytest.mark.parametrize("op", ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"])
def test_comparisons(op, tmp_path):
    a = rng.integers(-3, 3, (4, 6)).astype(np.float32)
    b = rng.integers(-3, 3, (6,)).astype(np.float32)
    model = single_node_model(op, [a, b], out_type=T.BOOL)
    assert_close(compile_model(model, tmp_path).run(a, b)[0], run_onnxruntime(model, tmp_path, a, b)[0], what=op)


def test_integer_arithmetic(tmp_path):
    a = rng.integers(-50, 50, (3, 5)).astype(np.int64)
    b = rng.integers(1, 7, (5,)).astype(np.int64)
    for op in ["Add", "Sub", "Mul", "Div"]:
        # One folder per model: dlopen returns an already-loaded library for a path it has seen.
        directory = tmp_path / op
        directory.mkdir()
        model = single_node_model(op, [a, b], out_type=T.INT64)
        assert_close(compile_model(model, directory).run(a, b)[0], run_onnxruntime(model, directory, a, b)[0], what=op)


def test_where_and_cast(tmp_path):
    c = rng.integers(0, 2, (4, 5)).astype(np.bool_)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    y = rng.standard_normal((5,)).astype(np.float32)
    model = single_node_model("Where", [c, x, y])
    assert_close(compile_model(model, tmp_path).run(c, x, y)[0], run_onnxruntime(model, tmp_path, c, x, y)[0], what="Where")
    f = (rng.standard_normal((6,)) * 10).astype(np.float32)
    directory = tmp_path / "cast"
    directory.mkdir()
    model = single_node_model("Cast", [f], {"to": T.INT64}, out_type=T.INT64)
    assert_close(compile_model(model, directory).run(f)[0], run_onnxruntime(model, directory, f)[0], what="Cast")


def test_large_parallel_elementwise(tmp_path):
    a = rng.standard_normal((64, 1024)).astype(np.float32)
    b = rng.standard_normal((1024,)).astype(np.float32)
    model = single_node_model("Mul", [a, b])
    assert_close(compile_model(model, tmp_path, threads=2).run(a, b)[0], a * b, what="Mul")


def test_wrong_input_shape_is_an_error_not_a_crash(tmp_path):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    compiled = compile_model(single_node_model("Relu", [x]), tmp_path)
    with pytest.raises(Exception, match="expected shape"):
        compiled.run(np.zeros((4, 3), np.float32))
