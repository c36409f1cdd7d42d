"""Trigonometric/hyperbolic math, Shrink/Swish/CastLike/Hardmax/CumProd/EyeLike/Trilu, bitwise ops, and
MeanVarianceNormalization/LRN/LpPool against numpy float64 or onnxruntime: domain edges, every attribute,
negative axes, run-time inputs and broadcasting the ONNX backend cases leave out."""
import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from ssmc_testing import assert_close, compile_model, run_onnxruntime

rng = np.random.default_rng(7)

ONNX_TYPES = {np.float32: T.FLOAT, np.float64: T.DOUBLE, np.int64: T.INT64, np.int32: T.INT32, np.int8: T.INT8,
              np.uint8: T.UINT8, np.bool_: T.BOOL}


def node_model(op, inputs, attrs=None, opset=24, out_type=None, initializers=None):
    """One `op` node over graph inputs `inputs` (name -> array) and constant `initializers`."""
    initializers = initializers or {}
    infos = [h.make_tensor_value_info(n, ONNX_TYPES[a.dtype.type], a.shape) for n, a in inputs.items()]
    inits = [h.make_tensor(n, ONNX_TYPES[a.dtype.type], a.shape, a.flatten().tolist()) for n, a in initializers.items()]
    names = list(inputs) + list(initializers)
    node = h.make_node(op, names, ["y"], **(attrs or {}))
    out = h.make_tensor_value_info("y", out_type if out_type is not None else ONNX_TYPES[next(iter(inputs.values())).dtype.type], None)
    graph = h.make_graph([node], "g", infos, [out], initializer=inits)
    return h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])


def run(model, tmp_path, *inputs):
    return compile_model(model, tmp_path).run(*inputs)[0]


# MARK: - Trigonometric and hyperbolic functions (numpy float64 reference)

MATH = {
    "Acos": (np.arccos, [-1.0, 1.0, -0.999999, 0.5, 0.0]), "Asin": (np.arcsin, [-1.0, 1.0, 1e-8, -0.3]),
    "Atan": (np.arctan, [-1e6, 1e6, 0.0, 3.0]), "Acosh": (np.arccosh, [1.0, 1.0000001, 1e10, 2.0]),
    "Asinh": (np.arcsinh, [-1e10, 1e-9, 0.0, 5.0]), "Atanh": (np.arctanh, [-0.9999999, 0.9999999, 1e-7, 0.5]),
    "Cosh": (np.cosh, [-88.0, 88.0, 0.0, 1e-4]), "Sinh": (np.sinh, [-88.0, 88.0, 1e-6, -2.0]),
    "Tan": (np.tan, [1.5707, -1.5707, 0.0, 100.0]),
}


@pytest.mark.parametrize("op", sorted(MATH))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_math_matches_float64(op, dtype, tmp_path):
    f, edges = MATH[op]
    low, high = {"Acos": (-1, 1), "Asin": (-1, 1), "Atanh": (-0.99, 0.99), "Acosh": (1, 50)}.get(op, (-6, 6))
    x = np.concatenate([rng.uniform(low, high, 200), edges]).astype(dtype).reshape(1, -1)
    got = run(node_model(op, {"x": x}), tmp_path, x)
    want = f(x.astype(np.float64))
    # Within a few float32 (or float64) ulps of the exactly rounded result.
    eps = np.finfo(dtype).eps
    assert_close(got, want, rtol=4 * eps, atol=0, what=op)


@pytest.mark.parametrize("op,x", [("Acos", 1.5), ("Asin", -1.01), ("Acosh", 0.5), ("Atanh", 2.0)])
def test_math_outside_domain_is_nan(op, x, tmp_path):
    a = np.array([x, 1.0 if op == "Acosh" else 0.5], np.float32)
    got = run(node_model(op, {"x": a}), tmp_path, a)
    assert np.isnan(got[0]) and not np.isnan(got[1])


def test_atanh_at_one_is_infinite(tmp_path):
    a = np.array([1.0, -1.0], np.float32)
    got = run(node_model("Atanh", {"x": a}), tmp_path, a)
    assert got[0] == np.inf and got[1] == -np.inf


def test_math_in_fused_matmul_epilogue(tmp_path):
    # MatMul then Asinh(Atan(.)) fuses into the product's vector epilogue: the libm calls run per lane.
    a = rng.standard_normal((5, 8)).astype(np.float32)
    b = rng.standard_normal((8, 40)).astype(np.float32)
    nodes = [h.make_node("MatMul", ["a", "b"], ["m"]), h.make_node("Atan", ["m"], ["t"]), h.make_node("Asinh", ["t"], ["y"])]
    graph = h.make_graph(nodes, "g", [h.make_tensor_value_info("a", T.FLOAT, a.shape)], [h.make_tensor_value_info("y", T.FLOAT, None)],
                         initializer=[h.make_tensor("b", T.FLOAT, b.shape, b.flatten().tolist())])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 22)])
    want = np.arcsinh(np.arctan(a.astype(np.float64) @ b.astype(np.float64)))
    assert_close(run(model, tmp_path, a), want, rtol=1e-5, atol=1e-6, what="fused")
