"""Trigonometric/hyperbolic math, Shrink/Swish/CastLike/Hardmax/CumProd/EyeLike/Trilu, bitwise ops, and
MeanVarianceNormalization/LRN/LpPool against numpy float64 or onnxruntime: domain edges, every attribute,
negative axes, run-time inputs and broadcasting the ONNX backend cases leave out."""
import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from ssmc_testing import assert_close, compile_model, emitted_ir, run_onnxruntime

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
    assert "ssmc.FusedMatMul" in emitted_ir(model, tmp_path)
    want = np.arcsinh(np.arctan(a.astype(np.float64) @ b.astype(np.float64)))
    assert_close(run(model, tmp_path, a), want, rtol=1e-5, atol=1e-6, what="fused")


def test_fused_float_chain_keeps_attributes(tmp_path):
    # Shrink -> Swish -> Tan fuse into one expression: each call keeps its own attributes.
    x = rng.uniform(-3, 3, (4, 33)).astype(np.float32)
    nodes = [h.make_node("Shrink", ["x"], ["s"], bias=0.25, lambd=0.75), h.make_node("Swish", ["s"], ["w"], alpha=0.5),
             h.make_node("Tan", ["w"], ["y"])]
    graph = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, x.shape)], [h.make_tensor_value_info("y", T.FLOAT, None)])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 24)])
    x64 = x.astype(np.float64)
    s = np.where(x64 < -0.75, x64 + 0.25, np.where(x64 > 0.75, x64 - 0.25, 0.0))
    assert "ssmc.FusedElementwise" in emitted_ir(model, tmp_path)
    assert_close(run(model, tmp_path, x), np.tan(s / (1 + np.exp(-0.5 * s))), rtol=2e-5, atol=1e-6, what="fused chain")


# MARK: - Shrink, Swish, CastLike, Hardmax, CumProd, EyeLike, Trilu

@pytest.mark.parametrize("bias,lambd", [(0.0, 0.5), (1.5, 1.5), (0.3, 0.0), (-0.2, 2.0)])
def test_shrink_float(bias, lambd, tmp_path):
    x = np.concatenate([rng.uniform(-4, 4, 60), [lambd, -lambd, 0.0]]).astype(np.float32)
    got = run(node_model("Shrink", {"x": x}, {"bias": bias, "lambd": lambd}, opset=9), tmp_path, x)
    x64 = x.astype(np.float64)
    want = np.where(x64 < -lambd, x64 + bias, np.where(x64 > lambd, x64 - bias, 0.0))
    assert_close(got, want, rtol=1e-6, atol=1e-6, what="Shrink")


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.int8])
def test_shrink_integer_matches_onnxruntime(dtype, tmp_path):
    x = np.arange(-6, 7, dtype=dtype)
    model = node_model("Shrink", {"x": x}, {"bias": 1.5, "lambd": 2.0}, opset=13)
    assert_close(run(model, tmp_path, x), run_onnxruntime(model, tmp_path, x)[0], what="Shrink int")


@pytest.mark.parametrize("alpha", [1.0, 0.5, -2.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_swish_alpha(alpha, dtype, tmp_path):
    x = (rng.standard_normal((3, 41)) * 5).astype(dtype)
    got = run(node_model("Swish", {"x": x}, {"alpha": alpha}, opset=24), tmp_path, x)
    x64 = x.astype(np.float64)
    assert_close(got, x64 / (1 + np.exp(-alpha * x64)), rtol=5e-6, atol=1e-6, what="Swish")


@pytest.mark.parametrize("src,dst", [(np.float32, np.int64), (np.float64, np.int32), (np.int64, np.float32),
                                     (np.float32, np.bool_), (np.int32, np.int8), (np.float32, np.uint8)])
def test_castlike_matches_onnxruntime(src, dst, tmp_path):
    x = (rng.standard_normal((4, 5)) * 50).astype(src)
    if dst == np.uint8:
        x = np.abs(x) % 200
    like = np.zeros((7,), dst)  # another shape: only the element type counts
    model = node_model("CastLike", {"x": x}, opset=21, out_type=ONNX_TYPES[dst], initializers={"like": like})
    assert_close(run(model, tmp_path, x), run_onnxruntime(model, tmp_path, x)[0], what="CastLike")


@pytest.mark.parametrize("axis", [0, 1, -1, -3])
def test_hardmax_axes_and_ties(axis, tmp_path):
    x = rng.integers(0, 3, (3, 4, 5)).astype(np.float32)  # many ties: the first maximum wins
    got = run(node_model("Hardmax", {"x": x}, {"axis": axis}, opset=13), tmp_path, x)
    want = np.zeros_like(x)
    np.put_along_axis(want, np.expand_dims(np.argmax(x, axis=axis), axis), 1, axis=axis)
    assert_close(got, want, what="Hardmax")


def cumprod_reference(x, axis, exclusive, reverse):
    y = np.flip(x, axis) if reverse else x
    c = np.cumprod(y.astype(np.float64) if x.dtype.kind == "f" else y, axis=axis)
    if exclusive:
        c = np.concatenate([np.ones_like(np.take(c, [0], axis=axis)), np.delete(c, -1, axis=axis)], axis=axis)
    return np.flip(c, axis) if reverse else c


@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("reverse", [0, 1])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_cumprod_attributes(exclusive, reverse, axis, tmp_path):
    x = rng.uniform(0.5, 1.5, (3, 4, 6)).astype(np.float32)
    a = np.array(axis, np.int64)
    model = node_model("CumProd", {"x": x}, {"exclusive": exclusive, "reverse": reverse}, opset=26, initializers={"axis": a})
    assert_close(run(model, tmp_path, x), cumprod_reference(x, axis, exclusive, reverse), rtol=2e-6, what="CumProd")


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float64])
def test_cumprod_runtime_axis(dtype, tmp_path):
    x = rng.integers(-3, 4, (4, 5)).astype(dtype)
    a = np.array(1, np.int32)
    model = node_model("CumProd", {"x": x, "axis": a}, {"exclusive": 1, "reverse": 1}, opset=26)
    got = compile_model(model, tmp_path).run(x, a)[0]
    assert_close(got, cumprod_reference(x, 1, 1, 1).astype(dtype), what="CumProd runtime axis")


@pytest.mark.parametrize("k", [0, 2, -1, -5, 7])
@pytest.mark.parametrize("dtype,out", [(np.float32, None), (np.int32, T.DOUBLE), (np.float32, T.INT64), (np.int64, T.BOOL)])
def test_eyelike(k, dtype, out, tmp_path):
    x = np.zeros((4, 6), dtype)
    attrs = {"k": k} if out is None else {"k": k, "dtype": out}
    model = node_model("EyeLike", {"x": x}, attrs, opset=22, out_type=out)
    want_type = {None: dtype, T.DOUBLE: np.float64, T.INT64: np.int64, T.BOOL: np.bool_}[out]
    got = run(model, tmp_path, x)
    assert got.dtype == want_type
    assert_close(got, np.eye(4, 6, k=k, dtype=want_type), what="EyeLike")


@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [-4, -1, 0, 2, 9])
def test_trilu_rank3_constant_k(upper, k, tmp_path):
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    model = node_model("Trilu", {"x": x}, {"upper": upper}, opset=14, initializers={"k": np.array(k, np.int64)})
    want = np.triu(x, k) if upper else np.tril(x, k)
    assert_close(run(model, tmp_path, x), want, what="Trilu")


@pytest.mark.parametrize("upper", [0, 1])
def test_trilu_runtime_k_and_integers(upper, tmp_path):
    x = rng.integers(-9, 9, (2, 2, 4, 6)).astype(np.int32)
    k = np.array(-2, np.int64)
    compiled = compile_model(node_model("Trilu", {"x": x, "k": k}, {"upper": upper}, opset=14), tmp_path)
    for kv in [-2, 0, 3]:
        k = np.array(kv, np.int64)
        want = np.triu(x, kv) if upper else np.tril(x, kv)
        assert_close(compiled.run(x, k)[0], want, what=f"Trilu k={kv}")


def test_trilu_without_k(tmp_path):
    x = rng.standard_normal((6, 3)).astype(np.float64)
    assert_close(run(node_model("Trilu", {"x": x}, {"upper": 0}, opset=14), tmp_path, x), np.tril(x), what="Trilu")


# MARK: - Bitwise ops and BitShift

INT_TYPES = [np.int8, np.uint8, np.int32, np.int64]


def random_ints(dtype, shape):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


@pytest.mark.parametrize("dtype", INT_TYPES)
@pytest.mark.parametrize("op,f", [("BitwiseAnd", np.bitwise_and), ("BitwiseOr", np.bitwise_or), ("BitwiseXor", np.bitwise_xor)])
def test_bitwise_binary_broadcasting(op, f, dtype, tmp_path):
    a = random_ints(dtype, (2, 3, 5))
    b = random_ints(dtype, (3, 1))
    got = compile_model(node_model(op, {"a": a, "b": b}, opset=18), tmp_path).run(a, b)[0]
    assert_close(got, f(a, b), what=op)


@pytest.mark.parametrize("dtype", INT_TYPES)
def test_bitwise_not_and_fused_u8_compare(dtype, tmp_path):
    # BitwiseNot then Equal fuse into one expression: a u8 Not must stay within its byte there too.
    a = random_ints(dtype, (4, 9))
    b = np.bitwise_not(a)
    b[0] ^= 1
    nodes = [h.make_node("BitwiseNot", ["a"], ["n"]), h.make_node("Equal", ["n", "b"], ["e"]), h.make_node("BitwiseNot", ["a"], ["y"])]
    t = ONNX_TYPES[dtype]
    graph = h.make_graph(nodes, "g", [h.make_tensor_value_info("a", t, a.shape), h.make_tensor_value_info("b", t, b.shape)],
                         [h.make_tensor_value_info("y", t, None), h.make_tensor_value_info("e", T.BOOL, None)])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 18)])
    assert "ssmc.FusedElementwise" in emitted_ir(model, tmp_path)
    y, e = compile_model(model, tmp_path).run(a, b)
    assert_close(y, np.bitwise_not(a), what="BitwiseNot")
    assert_close(e, np.bitwise_not(a) == b, what="Equal(BitwiseNot)")


@pytest.mark.parametrize("dtype", INT_TYPES)
def test_fused_integer_chain(dtype, tmp_path):
    # BitShift(RIGHT) -> BitwiseXor -> BitwiseNot fuse into one expression with the direction attribute.
    a = random_ints(dtype, (3, 17))
    b = random_ints(dtype, (17,))
    s = np.array([2], dtype)
    nodes = [h.make_node("BitShift", ["a", "s"], ["r"], direction="RIGHT"), h.make_node("BitwiseXor", ["r", "b"], ["x"]),
             h.make_node("BitwiseNot", ["x"], ["y"])]
    t = ONNX_TYPES[dtype]
    graph = h.make_graph(nodes, "g", [h.make_tensor_value_info("a", t, a.shape), h.make_tensor_value_info("b", t, b.shape)],
                         [h.make_tensor_value_info("y", t, None)], initializer=[h.make_tensor("s", t, [1], s.tolist())])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 18)])
    assert "ssmc.FusedElementwise" in emitted_ir(model, tmp_path)
    got = compile_model(model, tmp_path).run(a, b)[0]
    assert_close(got, np.bitwise_not(np.bitwise_xor(np.right_shift(a, s), b)), what="fused integer chain")


def bitshift_reference(x, y, left):
    bits = x.dtype.itemsize * 8
    out = np.zeros(np.broadcast_shapes(x.shape, y.shape), x.dtype)
    xb, yb = np.broadcast_arrays(x, y)
    for i in np.ndindex(out.shape):
        xv, yv = int(xb[i]), int(yb[i])
        if yv < 0 or yv >= bits:
            out[i] = -1 if (not left and xv < 0) else 0
        elif left:
            v = (xv << yv) & ((1 << bits) - 1)
            out[i] = np.array(v, np.uint64).astype(x.dtype) if x.dtype.kind == "i" else v
        else:
            out[i] = xv >> yv
    return out


@pytest.mark.parametrize("dtype", INT_TYPES)
@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
def test_bitshift_every_amount(dtype, direction, tmp_path):
    bits = np.dtype(dtype).itemsize * 8
    x = random_ints(dtype, (5, 1))
    lo = 0 if dtype == np.uint8 else -3
    y = np.arange(lo, min(bits + 3, np.iinfo(dtype).max), dtype=dtype).reshape(1, -1)
    model = node_model("BitShift", {"x": x, "y": y}, {"direction": direction}, opset=28)
    got = compile_model(model, tmp_path).run(x, y)[0]
    assert_close(got, bitshift_reference(x, y, direction == "LEFT"), what=f"BitShift {direction}")


# The ONNX op definitions' type constraints are checked before any shape rule (SSMCIR/ElementTypeRule.swift).
@pytest.mark.parametrize("op,dtype,message", [
    ("BitwiseAnd", np.float32, "has element type f32; BitwiseAnd takes i16, i32, i64, i8, u16, u32, u64, u8"),
    ("BitShift", np.float64, "has element type f64; BitShift takes"),
    ("Swish", np.int32, "has element type i32; Swish takes bf16, f16, f32, f64"),
    ("Acos", np.int64, "has element type i64; Acos takes bf16, f16, f32, f64")])
def test_type_errors_are_clear(op, dtype, message, tmp_path):
    import subprocess
    from ssmc_testing import SSMC, save
    a = np.zeros((2,), dtype)
    inputs = {"a": a} if op in ("Swish", "Acos") else {"a": a, "b": a}
    attrs = {"direction": "LEFT"} if op == "BitShift" else {}
    path = save(node_model(op, inputs, attrs, opset=24), tmp_path)
    result = subprocess.run([SSMC, "compile", path, "-o", str(tmp_path / "x.so")], capture_output=True, text=True)
    assert result.returncode != 0 and message in result.stderr, result.stderr


# MARK: - MeanVarianceNormalization, LRN, LpPool, GlobalLpPool, old opset forms

def onnx_reference(model, *inputs):
    """The ONNX reference evaluator's outputs (an implementation independent of ssmc and onnxruntime)."""
    from onnx.reference import ReferenceEvaluator
    session = ReferenceEvaluator(model)
    names = [i.name for i in model.graph.input]
    return session.run(None, dict(zip(names, inputs)))


@pytest.mark.parametrize("axes", [None, [1], [-1], [0, 1, 2, 3], [2, 3], [0, -2]])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mean_variance_normalization_axes(axes, dtype, tmp_path):
    x = (rng.standard_normal((2, 3, 4, 5)) * 3 + 1).astype(dtype)
    attrs = {} if axes is None else {"axes": axes}
    got = run(node_model("MeanVarianceNormalization", {"x": x}, attrs, opset=13), tmp_path, x)
    x64 = x.astype(np.float64)
    reduce_axes = tuple(axes if axes is not None else [0, 2, 3])
    mean = x64.mean(axis=reduce_axes, keepdims=True)
    std = np.sqrt((x64 * x64).mean(axis=reduce_axes, keepdims=True) - mean * mean)
    assert_close(got, (x64 - mean) / (std + 1e-9), rtol=2e-5, atol=2e-5, what="MVN")


def lrn_reference(x, size, alpha, beta, bias):
    """The spec's formula in float64: channels max(0, c - floor((size-1)/2)) ..= min(C-1, c + ceil((size-1)/2))."""
    x64 = x.astype(np.float64)
    channels = x.shape[1]
    before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
    square_sum = np.zeros_like(x64)
    for c in range(channels):
        lo, hi = max(0, c - before), min(channels - 1, c + after)
        square_sum[:, c] = (x64[:, lo:hi + 1] ** 2).sum(axis=1)
    return x64 / (bias + alpha / size * square_sum) ** beta


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("shape", [(2, 6, 5, 4), (1, 5, 7), (1, 4, 2, 3, 3)])
def test_lrn(size, shape, tmp_path):
    x = rng.standard_normal(shape).astype(np.float32) * 4
    model = node_model("LRN", {"x": x}, {"size": size, "alpha": 0.02, "beta": 0.6, "bias": 1.5}, opset=13)
    got = run(model, tmp_path, x)
    assert_close(got, lrn_reference(x, size, 0.02, 0.6, 1.5), rtol=1e-5, atol=1e-6, what="LRN")
    if len(shape) == 4 and size % 2 == 1:  # onnxruntime's LRN takes only 4-D X and odd sizes
        assert_close(got, run_onnxruntime(model, tmp_path, x)[0], rtol=1e-5, atol=1e-6, what="LRN vs onnxruntime")


LP_POOLS = [
    ({"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}, (1, 2, 7, 6)),
    ({"kernel_shape": [2, 3], "pads": [0, 2, 1, 0], "strides": [2, 1]}, (2, 3, 6, 7)),
    ({"kernel_shape": [3, 2], "dilations": [2, 1], "pads": [1, 0, 2, 1]}, (1, 2, 9, 5)),
    ({"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}, (1, 1, 8, 8)),
    ({"kernel_shape": [3, 2], "strides": [2, 3], "auto_pad": "SAME_LOWER"}, (1, 2, 7, 8)),
    ({"kernel_shape": [2, 2], "strides": [2, 2], "auto_pad": "SAME_UPPER"}, (1, 2, 5, 5)),
    ({"kernel_shape": [4], "strides": [3], "pads": [2, 1]}, (2, 3, 10)),
    ({"kernel_shape": [2, 2, 3], "pads": [1, 0, 1, 0, 1, 1]}, (1, 2, 4, 4, 5)),
]


@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("case", range(len(LP_POOLS)))
def test_lppool_matches_onnxruntime(p, case, tmp_path):
    # onnxruntime, not the ONNX reference evaluator: that one scales ceil_mode's partial edge windows as
    # if they were averages, where the spec sums |x|^p over the positions inside X.
    attrs, shape = LP_POOLS[case]
    x = rng.standard_normal(shape).astype(np.float32)
    model = node_model("LpPool", {"x": x}, dict(attrs, p=p), opset=22)
    want = run_onnxruntime(model, tmp_path, x)[0]
    assert_close(run(model, tmp_path, x), want, rtol=1e-5, atol=1e-6, what="LpPool")


@pytest.mark.parametrize("p", [1, 2, 3, 11])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_global_lppool(p, dtype, tmp_path):
    x = rng.uniform(-1.5, 1.5, (2, 3, 5, 7)).astype(dtype)
    got = run(node_model("GlobalLpPool", {"x": x}, {"p": p}, opset=22), tmp_path, x)
    want = (np.abs(x.astype(np.float64)) ** p).sum(axis=(2, 3), keepdims=True) ** (1 / p)
    assert_close(got, want, rtol=1e-5, atol=1e-6, what="GlobalLpPool")


def test_opset1_float_p(tmp_path):
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    got = run(node_model("LpPool", {"x": x}, {"kernel_shape": [2, 2], "p": 3.0}, opset=1), tmp_path / "a", x)
    want = onnx_reference(node_model("LpPool", {"x": x}, {"kernel_shape": [2, 2], "p": 3}, opset=22), x)[0]
    assert_close(got, want, rtol=1e-5, atol=1e-6, what="LpPool-1")
    got = run(node_model("GlobalLpPool", {"x": x}, {"p": 1.0}, opset=1), tmp_path / "b", x)
    assert_close(got, np.abs(x.astype(np.float64)).sum(axis=(2, 3), keepdims=True), rtol=1e-5, what="GlobalLpPool-1")


@pytest.mark.parametrize("opset,axis", [(1, None), (1, 0), (1, 2), (11, None), (11, 0), (11, 2), (11, -1), (11, -3)])
def test_hardmax_coerced_2d_before_opset13(opset, axis, tmp_path):
    x = rng.integers(0, 4, (2, 3, 4)).astype(np.float32)
    model = node_model("Hardmax", {"x": x}, {} if axis is None else {"axis": axis}, opset=opset)
    a = 1 if axis is None else axis % 3
    rows = x.reshape(int(np.prod(x.shape[:a])), -1)
    want = np.zeros_like(rows)
    want[np.arange(rows.shape[0]), np.argmax(rows, axis=1)] = 1
    assert_close(run(model, tmp_path, x), want.reshape(x.shape), what=f"Hardmax-{opset}")


def test_opset1_non_integer_p_is_a_clear_error(tmp_path):
    import subprocess
    from ssmc_testing import SSMC, save
    x = np.zeros((1, 1, 4, 4), np.float32)
    path = save(node_model("GlobalLpPool", {"x": x}, {"p": 2.5}, opset=1), tmp_path)
    result = subprocess.run([SSMC, "compile", path, "-o", str(tmp_path / "x.so")], capture_output=True, text=True)
    assert result.returncode != 0 and "non-integer p" in result.stderr
