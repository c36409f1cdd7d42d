"""Quantization ops compiled by ssmc: QuantizeLinear / DequantizeLinear (per tensor, per axis with negative axes,
blocked, output_dtype, old opsets), DynamicQuantizeLinear, MatMulInteger, QLinearMatMul (per-row / per-column
parameters), ConvInteger and QLinearConv (groups, strides, dilations, padding, per-channel weights).
References: numpy (int64 products, float64 or the spec's f32 arithmetic), onnxruntime, the ONNX reference evaluator."""
import itertools
import subprocess

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh
from onnx.reference import ReferenceEvaluator

from ssmc_testing import SSMC, assert_close, compile_model, emitted_ir, run_onnxruntime, save

RNG = np.random.default_rng(23)
ONNX_TYPE = {np.float32: T.FLOAT, np.uint8: T.UINT8, np.int8: T.INT8, np.int32: T.INT32}
RANGE = {np.uint8: (0, 255), np.int8: (-128, 127)}


def one_node(op, inputs, outputs=("y",), opset=21, inits=(), **attrs):
    """A model with one `op` node; `inputs` maps names to arrays (graph inputs), `inits` are (name, array)."""
    infos = [h.make_tensor_value_info(n, ONNX_TYPE[a.dtype.type], a.shape) for n, a in inputs.items()]
    names = list(inputs) + [n for n, _ in inits]
    node = h.make_node(op, names, list(outputs), **attrs)
    graph = h.make_graph([node], "q", infos, [h.make_empty_tensor_value_info(o) for o in outputs],
                         [nh.from_array(a, n) for n, a in inits])
    # Output types from ONNX's own shape inference (onnxruntime needs them declared).
    return onnx.shape_inference.infer_shapes(h.make_model(graph, opset_imports=[h.make_opsetid("", opset)]))


def run(model, tmp_path, inputs, threads=0):
    return compile_model(model, tmp_path, threads=threads).run(*inputs.values())


def reference(model, inputs):
    return ReferenceEvaluator(model).run(None, inputs)


def quantize_f32(x, scale, zero, dtype):
    """The spec with f32 division: saturate(rint(x / scale) + zero_point)."""
    q = np.rint((x / scale).astype(np.float32)).astype(np.float64) + zero
    return np.clip(q, *RANGE[dtype]).astype(dtype)


# --- QuantizeLinear / DequantizeLinear ---

@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("axis", [-1, -2, -4, 1])
def test_quantize_per_axis(tmp_path, dtype, axis):
    x = (RNG.standard_normal((2, 3, 4, 5)) * 40).astype(np.float32)
    n = x.shape[axis]
    scale = RNG.uniform(0.2, 0.9, n).astype(np.float32)
    zero = RNG.integers(*RANGE[dtype], n, endpoint=True).astype(dtype)
    inputs = {"x": x, "s": scale, "z": zero}
    m = one_node("QuantizeLinear", inputs, axis=axis)
    got = run(m, tmp_path, inputs)[0]
    shape = [1] * 4
    shape[axis] = n
    want = quantize_f32(x, scale.reshape(shape), zero.reshape(shape).astype(np.float64), dtype)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, run_onnxruntime(m, tmp_path, *inputs.values())[0])


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_quantize_ties_round_to_even_and_saturate(tmp_path, dtype):
    halves = np.array([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, -3.5, 126.5, 127.5, -127.5, -128.5], np.float32)
    extremes = np.array([1e9, -1e9, np.inf, -np.inf, 300, -300, 254.5, 255.5, 0, -0.0, 1e-30, 128], np.float32)
    x = np.concatenate([halves, extremes])
    zero = np.array(3 if dtype == np.uint8 else -3, dtype)
    inputs = {"x": x, "s": np.array(1, np.float32), "z": zero}
    m = one_node("QuantizeLinear", inputs)
    got = run(m, tmp_path, inputs)[0]
    want = np.clip(np.rint(x.astype(np.float64)) + float(zero), *RANGE[dtype]).astype(dtype)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, run_onnxruntime(m, tmp_path, *inputs.values())[0])


@pytest.mark.parametrize("axis,block", [(1, 4), (-1, 3), (0, 2), (-2, 5)])
def test_quantize_dequantize_blocked(tmp_path, axis, block):
    x = (RNG.standard_normal((5, 7)) * 30).astype(np.float32)
    a = axis % 2
    shape = list(x.shape)
    shape[a] = -(-shape[a] // block)
    scale = RNG.uniform(0.1, 0.5, shape).astype(np.float32)
    zero = RNG.integers(-20, 20, shape).astype(np.int8)
    inputs = {"x": x, "s": scale, "z": zero}
    m = one_node("QuantizeLinear", inputs, axis=axis, block_size=block)
    got = run(m, tmp_path, inputs)[0]
    full_scale = np.repeat(scale, block, axis=a).take(range(x.shape[a]), axis=a)
    full_zero = np.repeat(zero, block, axis=a).take(range(x.shape[a]), axis=a)
    np.testing.assert_array_equal(got, quantize_f32(x, full_scale, full_zero.astype(np.float64), np.int8))
    np.testing.assert_array_equal(got, reference(m, inputs)[0])

    dq_inputs = {"x": got, "s": scale, "z": zero}
    dq = one_node("DequantizeLinear", dq_inputs, axis=axis, block_size=block)
    back = compile_model(dq, _sub(tmp_path, "dq")).run(*dq_inputs.values())[0]
    want = ((got.astype(np.float64) - full_zero) * full_scale).astype(np.float32)
    assert_close(back, want, rtol=0, atol=0)


def _sub(tmp_path, name):
    d = tmp_path / name
    d.mkdir(exist_ok=True)
    return d


def test_quantize_output_dtype_without_zero_point(tmp_path):
    x = (RNG.standard_normal(40) * 100).astype(np.float32)
    inputs = {"x": x, "s": np.array(0.5, np.float32)}
    m = one_node("QuantizeLinear", inputs, output_dtype=T.INT8)
    got = run(m, tmp_path, inputs)[0]
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, quantize_f32(x, np.float32(0.5), 0.0, np.int8))
    # Without zero point and output_dtype the result is u8.
    m = one_node("QuantizeLinear", inputs)
    got = compile_model(m, _sub(tmp_path, "u8")).run(*inputs.values())[0]
    np.testing.assert_array_equal(got, quantize_f32(x, np.float32(0.5), 0.0, np.uint8))


@pytest.mark.parametrize("opset", [10, 13, 19])
def test_quantize_dequantize_old_opsets(tmp_path, opset):
    x = (RNG.standard_normal((2, 3, 4)) * 10).astype(np.float32)
    per_axis = opset >= 13
    scale = (np.array([0.1, 0.2, 0.3], np.float32) if per_axis else np.array(0.15, np.float32))
    zero = (np.array([0, 100, 255], np.uint8) if per_axis else np.array(128, np.uint8))
    inputs = {"x": x, "s": scale, "z": zero}
    q = one_node("QuantizeLinear", inputs, opset=opset)
    got = run(q, tmp_path, inputs)[0]
    np.testing.assert_array_equal(got, run_onnxruntime(q, tmp_path, *inputs.values())[0])
    dq_inputs = {"x": got, "s": scale, "z": zero}
    dq = one_node("DequantizeLinear", dq_inputs, opset=opset)
    back = compile_model(dq, _sub(tmp_path, "dq")).run(*dq_inputs.values())[0]
    assert_close(back, run_onnxruntime(dq, _sub(tmp_path, "dq"), *dq_inputs.values())[0], rtol=0, atol=0)


def test_quantize_int32_input(tmp_path):
    # An i32 x divides in f64 (numpy's promotion in the reference).
    x = RNG.integers(-5000, 5000, 64).astype(np.int32)
    inputs = {"x": x, "s": np.array(37.0, np.float32), "z": np.array(-7, np.int8)}
    m = one_node("QuantizeLinear", inputs)
    got = run(m, tmp_path, inputs)[0]
    np.testing.assert_array_equal(got, np.clip(np.rint(x / 37.0) - 7, -128, 127).astype(np.int8))
    np.testing.assert_array_equal(got, reference(m, inputs)[0])


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int32])
def test_dequantize_per_axis_negative_axis(tmp_path, dtype):
    lo, hi = RANGE.get(dtype, (-(2**31), 2**31 - 1))
    x = RNG.integers(lo, hi, (3, 4, 6), endpoint=True).astype(dtype)
    scale = RNG.uniform(0.01, 2, 4).astype(np.float32)
    zero = RNG.integers(lo, hi, 4, endpoint=True).astype(dtype)
    inputs = {"x": x, "s": scale, "z": zero}
    m = one_node("DequantizeLinear", inputs, axis=-2)
    got = run(m, tmp_path, inputs)[0]
    want = ((x.astype(np.float64) - zero.reshape(4, 1)) * scale.reshape(4, 1)).astype(np.float32)
    assert_close(got, want, rtol=0 if dtype != np.int32 else 1e-6, atol=0)


def test_round_trip_in_one_model(tmp_path):
    # x -> QuantizeLinear (per channel, i8) -> DequantizeLinear -> Relu, against onnxruntime and the bound
    # |x - dq(q(x))| <= scale / 2 inside the representable range.
    x = (RNG.standard_normal((2, 4, 9, 9)) * 3).astype(np.float32)
    scale = np.array([0.02, 0.05, 0.1, 0.2], np.float32)
    zero = np.array([0, -10, 10, 0], np.int8)
    nodes = [h.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=1),
             h.make_node("DequantizeLinear", ["q", "s", "z"], ["d"], axis=1), h.make_node("Relu", ["d"], ["y"])]
    graph = h.make_graph(nodes, "rt", [h.make_tensor_value_info("x", T.FLOAT, x.shape)],
                         [h.make_tensor_value_info("y", T.FLOAT, None)],
                         [nh.from_array(scale, "s"), nh.from_array(zero, "z")])
    m = h.make_model(graph, opset_imports=[h.make_opsetid("", 21)])
    got = compile_model(m, tmp_path).run(x)[0]
    assert_close(got, run_onnxruntime(m, tmp_path, x)[0], rtol=0, atol=0)
    s, z = scale.reshape(1, 4, 1, 1), zero.reshape(1, 4, 1, 1).astype(np.float64)
    inside = (x / s + z >= -128) & (x / s + z <= 127)
    assert np.all(np.abs(np.maximum(x, 0) - got)[inside] <= np.broadcast_to(s, x.shape)[inside] / 2 + 1e-6)


def test_layout_errors(tmp_path):
    x = np.zeros((4, 6), np.float32)
    bad = {"x": x, "s": np.ones((4, 2), np.float32)}  # blocks of 4 along axis 1 need 2 columns: ok; 3 is wrong
    m = one_node("QuantizeLinear", {"x": x, "s": np.ones((4, 3), np.float32)}, axis=1, block_size=4)
    r = subprocess.run([SSMC, "compile", save(m, tmp_path), "-o", str(tmp_path / "l.so")], capture_output=True, text=True)
    assert r.returncode != 0 and "blocked scale" in r.stderr
    m = one_node("QuantizeLinear", {**bad, "z": np.zeros((4, 2), np.uint8)}, axis=1, block_size=4, output_dtype=T.INT8)
    r = subprocess.run([SSMC, "compile", save(m, tmp_path), "-o", str(tmp_path / "l.so")], capture_output=True, text=True)
    assert r.returncode != 0 and "output_dtype" in r.stderr


# --- DynamicQuantizeLinear ---

@pytest.mark.parametrize("shift", [0.0, 5.0, -5.0])
def test_dynamic_quantize(tmp_path, shift):
    x = (RNG.standard_normal((8, 64, 80)) + shift).astype(np.float32)  # large enough for the thread pool
    m = one_node("DynamicQuantizeLinear", {"x": x}, outputs=("y", "scale", "zero"), opset=11)
    got = compile_model(m, tmp_path, threads=2).run(x)
    want = run_onnxruntime(m, tmp_path, x)
    for g, w, name in zip(got, want, ["y", "scale", "zero"]):
        assert_close(g, w, rtol=0, atol=0, what=name)
    # The spec's arithmetic in numpy (f32 throughout).
    lo, hi = np.float32(min(0, x.min())), np.float32(max(0, x.max()))
    scale = np.float32(hi - lo) / np.float32(255)
    zero = np.rint(np.clip(np.float32(0) - lo / scale, 0, 255))
    assert got[1] == scale and got[2] == zero


# --- MatMulInteger / QLinearMatMul ---

def integer(dtype, shape):
    return RNG.integers(*RANGE[dtype], shape, endpoint=True).astype(dtype)


@pytest.mark.parametrize("ta,tb", [(np.uint8, np.uint8), (np.int8, np.int8), (np.uint8, np.int8), (np.int8, np.uint8)])
@pytest.mark.parametrize("a_shape,b_shape,zp", [
    ((5, 300), (300, 19), "scalar"), ((2, 3, 7, 33), (33, 5), "vector"), ((33,), (2, 33, 17), "scalar"),
    ((4, 1, 6, 9), (3, 9, 40), "nd"), ((6, 9), (9,), "none"),
])
def test_matmul_integer(tmp_path, ta, tb, a_shape, b_shape, zp):
    a, b = integer(ta, a_shape), integer(tb, b_shape)
    inputs = {"a": a, "b": b}
    m_rows, n_cols = (a_shape[-2] if len(a_shape) > 1 else 1), (b_shape[-1] if len(b_shape) > 1 else 1)
    za = zb = None
    if zp == "scalar":
        za, zb = integer(ta, ()), integer(tb, (1,))
    elif zp == "vector":
        za, zb = integer(ta, (m_rows,)), integer(tb, (n_cols,))
    elif zp == "nd":  # [D1, D2, M, 1] for A, [D, 1, N] for B
        za, zb = integer(ta, a_shape[:-1] + (1,)), integer(tb, b_shape[:-2] + (1, n_cols))
    if za is not None:
        inputs.update(za=za, zb=zb)
    m = one_node("MatMulInteger", inputs, opset=10)
    got = run(m, tmp_path, inputs)[0]
    A, B = a.astype(np.int64), b.astype(np.int64)
    if za is not None:
        A = A - (za.reshape(-1, 1) if zp == "vector" else za)
        B = B - zb
    want = np.matmul(A, B)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, want)


def test_matmul_integer_extreme_accumulation(tmp_path):
    # Every product is 255 * 255 (u8 - 0) or 128 * 128 ((-128 - 0) for i8); a long K stays exact in i32.
    a = np.full((3, 4000), 255, np.uint8)
    b = np.full((4000, 20), -128, np.int8)
    inputs = {"a": a, "b": b, "za": np.array(0, np.uint8), "zb": np.array(127, np.int8)}
    got = run(one_node("MatMulInteger", inputs, opset=10), tmp_path, inputs)[0]
    np.testing.assert_array_equal(got, np.full((3, 20), 4000 * 255 * (-255), np.int64))


def qlinear_reference(acc, multiplier, zero, dtype):
    """The ONNX reference's requantization: the multiplier in f32, acc * multiplier + zero in f64."""
    return np.clip(np.rint(acc * multiplier.astype(np.float64) + zero), *RANGE[dtype]).astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_qlinear_matmul_per_tensor_vs_onnxruntime(tmp_path, dtype):
    a, b = integer(dtype, (2, 7, 30)), integer(dtype, (30, 21))
    f = lambda v: np.array([v], np.float32)
    inputs = {"a": a, "sa": f(0.02), "za": integer(dtype, (1,)), "b": b, "sb": f(0.03), "zb": integer(dtype, (1,)),
              "sy": f(0.5), "zy": integer(dtype, (1,))}
    m = one_node("QLinearMatMul", inputs)
    got = run(m, tmp_path, inputs)[0]
    acc = np.matmul(a.astype(np.int64) - inputs["za"], b.astype(np.int64) - inputs["zb"])
    multiplier = (inputs["sa"] * inputs["sb"]) / inputs["sy"]
    np.testing.assert_array_equal(got, qlinear_reference(acc, multiplier, inputs["zy"].astype(np.float64), dtype))
    ort = run_onnxruntime(m, tmp_path, *inputs.values())[0]
    assert np.abs(got.astype(int) - ort).max() <= 1  # onnxruntime requantizes in f32


@pytest.mark.parametrize("nd", [False, True])
def test_qlinear_matmul_per_row_and_column(tmp_path, nd):
    # a's scale and zero point per row, b's per column: 1-D vectors, or [D, M, 1] / [D, 1, N] tensors.
    a, b = integer(np.uint8, (3, 6, 25)), integer(np.int8, (3, 25, 11))
    row_shape, col_shape = ((3, 6, 1), (3, 1, 11)) if nd else ((6,), (11,))
    inputs = {"a": a, "sa": RNG.uniform(0.01, 0.05, row_shape).astype(np.float32), "za": integer(np.uint8, row_shape),
              "b": b, "sb": RNG.uniform(0.01, 0.05, col_shape).astype(np.float32), "zb": integer(np.int8, col_shape),
              "sy": np.array(0.05, np.float32), "zy": np.array(-5, np.int8)}
    got = run(one_node("QLinearMatMul", inputs), tmp_path, inputs)[0]
    za, sa = (inputs["za"], inputs["sa"]) if nd else (inputs["za"].reshape(6, 1), inputs["sa"].reshape(6, 1))
    acc = np.matmul(a.astype(np.int64) - za, b.astype(np.int64) - inputs["zb"])
    multiplier = (sa * inputs["sb"]) / inputs["sy"]
    np.testing.assert_array_equal(got, qlinear_reference(acc, multiplier, -5.0, np.int8))


# --- ConvInteger / QLinearConv ---

def conv_reference(x, w, group=1, strides=None, dilations=None, pads=None):
    """Direct N-d convolution of int64 arrays (x already minus its zero point; padding contributes 0)."""
    n = x.ndim - 2
    strides, dilations, pads = strides or [1] * n, dilations or [1] * n, pads or [0] * (2 * n)
    x = np.pad(x, [(0, 0), (0, 0)] + [(pads[i], pads[i + n]) for i in range(n)])
    kernel = w.shape[2:]
    out = [(x.shape[2 + i] - ((kernel[i] - 1) * dilations[i] + 1)) // strides[i] + 1 for i in range(n)]
    y = np.zeros((x.shape[0], w.shape[0], *out), np.int64)
    cg, mg = x.shape[1] // group, w.shape[0] // group
    for g in range(group):
        xs, ws = x[:, g * cg:(g + 1) * cg], w[g * mg:(g + 1) * mg]
        for q in itertools.product(*[range(k) for k in kernel]):
            idx = tuple(slice(q[i] * dilations[i], q[i] * dilations[i] + (out[i] - 1) * strides[i] + 1, strides[i]) for i in range(n))
            patch = xs[(slice(None), slice(None)) + idx]
            y[:, g * mg:(g + 1) * mg] += np.einsum("nc...,mc->nm...", patch, ws[(slice(None), slice(None)) + q])
    return y


CONV_CASES = [
    dict(x=(1, 4, 9, 10), w=(6, 2, 3, 3), attrs=dict(group=2, strides=[2, 1], pads=[1, 0, 2, 1])),
    dict(x=(2, 3, 17), w=(4, 3, 4), attrs=dict(dilations=[2], pads=[3, 1])),
    dict(x=(1, 2, 5, 6, 4), w=(2, 2, 2, 3, 2), attrs=dict(strides=[1, 2, 1])),
    dict(x=(1, 6, 8, 8), w=(6, 1, 3, 3), attrs=dict(group=6, auto_pad="SAME_UPPER", strides=[2, 2]), pads=[0, 0, 1, 1]),
]


@pytest.mark.parametrize("case", range(len(CONV_CASES)))
@pytest.mark.parametrize("tx,tw", [(np.uint8, np.uint8), (np.uint8, np.int8)])
def test_conv_integer(tmp_path, case, tx, tw):
    c = CONV_CASES[case]
    x, w = integer(tx, c["x"]), integer(tw, c["w"])
    zx, zw = integer(tx, ()), integer(tw, (c["w"][0],))  # w's zero point per output channel
    inputs = {"x": x, "w": w, "zx": zx, "zw": zw}
    got = run(one_node("ConvInteger", inputs, opset=10, **c["attrs"]), tmp_path, inputs)[0]
    attrs = {k: v for k, v in c["attrs"].items() if k != "auto_pad"}
    if "pads" in c:
        attrs["pads"] = c["pads"]
    zw_full = zw.astype(np.int64).reshape((-1,) + (1,) * (w.ndim - 1))
    want = conv_reference(x.astype(np.int64) - zx, w.astype(np.int64) - zw_full, **attrs)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("per_channel", [False, True])
def test_qlinear_conv(tmp_path, dtype, per_channel):
    x, w = integer(dtype, (2, 4, 7, 8)), integer(np.int8, (6, 2, 3, 2))
    m_out = 6
    f = lambda v: np.array(v, np.float32)
    sw = RNG.uniform(0.005, 0.02, m_out).astype(np.float32) if per_channel else f(0.01)
    zw = np.zeros(m_out if per_channel else (), np.int8)  # onnxruntime takes symmetric int8 weights
    bias = RNG.integers(-2000, 2000, m_out).astype(np.int32)
    inputs = {"x": x, "sx": f(0.05), "zx": integer(dtype, ()), "w": w, "sw": sw, "zw": zw, "sy": f(0.2),
              "zy": integer(dtype, ()), "bias": bias}
    attrs = dict(group=2, pads=[1, 1, 0, 1], strides=[1, 2])
    m = one_node("QLinearConv", inputs, opset=10, **attrs)
    got = run(m, tmp_path, inputs)[0]
    acc = conv_reference(x.astype(np.int64) - inputs["zx"], w.astype(np.int64), group=2, pads=[1, 1, 0, 1], strides=[1, 2])
    acc = acc + bias.reshape(1, -1, 1, 1)
    multiplier = (inputs["sx"] * (sw.reshape(1, -1, 1, 1) if per_channel else sw)) / inputs["sy"]
    np.testing.assert_array_equal(got, qlinear_reference(acc, multiplier, float(inputs["zy"]), dtype))
    ort = run_onnxruntime(m, tmp_path, *inputs.values())[0]
    assert np.abs(got.astype(int) - ort).max() <= 1  # onnxruntime requantizes in f32


@pytest.mark.parametrize("layout", ["axis", "blocked"])
def test_qdq_conv_constant_weights_fold(tmp_path, layout):
    # A QDQ model: activations quantized and dequantized at run time, i8 weights dequantized per output
    # channel (or in blocks along the input channels) from constants, which ssmc folds to f32 weights.
    x = RNG.standard_normal((1, 8, 12, 12)).astype(np.float32)
    w = RNG.integers(-127, 127, (16, 8, 3, 3)).astype(np.int8)
    if layout == "axis":
        ws, wz, attrs = RNG.uniform(0.001, 0.01, 16).astype(np.float32), np.zeros(16, np.int8), dict(axis=0)
    else:
        ws, wz = RNG.uniform(0.001, 0.01, (16, 2, 3, 3)).astype(np.float32), RNG.integers(-3, 3, (16, 2, 3, 3)).astype(np.int8)
        attrs = dict(axis=1, block_size=4)
    nodes = [h.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]), h.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
             h.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wd"], **attrs),
             h.make_node("Conv", ["xd", "wd"], ["y"], pads=[1, 1, 1, 1])]
    inits = [nh.from_array(np.array(0.03, np.float32), "xs"), nh.from_array(np.array(128, np.uint8), "xz"),
             nh.from_array(w, "w"), nh.from_array(ws, "ws"), nh.from_array(wz, "wz")]
    graph = h.make_graph(nodes, "qdq", [h.make_tensor_value_info("x", T.FLOAT, x.shape)],
                         [h.make_tensor_value_info("y", T.FLOAT, None)], inits)
    m = h.make_model(graph, opset_imports=[h.make_opsetid("", 21)])
    got = compile_model(m, tmp_path).run(x)[0]
    want = reference(m, {"x": x})[0]
    assert_close(got, want, rtol=1e-4, atol=1e-5)
    ir = emitted_ir(m, tmp_path)
    assert ir.count("DequantizeLinear") == 1, ir


def test_runtime_batch_qdq_and_qlinear_conv(tmp_path):
    # A symbolic batch: per-channel Quantize/Dequantize and QLinearConv keep samples apart; one library runs
    # every batch, as onnxruntime does.
    f = lambda v: np.array(v, np.float32)
    nodes = [h.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=1),
             h.make_node("QLinearConv", ["q", "sx", "zx", "w", "sw", "zw", "sy", "zy"], ["c"], pads=[1, 1, 1, 1]),
             h.make_node("DequantizeLinear", ["c", "sy", "zy"], ["y"])]
    inits = [nh.from_array(RNG.uniform(0.01, 0.03, 3).astype(np.float32), "s"), nh.from_array(np.array([128] * 3, np.uint8), "z"),
             nh.from_array(f(0.02), "sx"), nh.from_array(np.array(128, np.uint8), "zx"),
             nh.from_array(RNG.integers(-127, 127, (4, 3, 3, 3)).astype(np.int8), "w"), nh.from_array(f(0.01), "sw"),
             nh.from_array(np.array(0, np.int8), "zw"), nh.from_array(f(0.1), "sy"), nh.from_array(np.array(100, np.uint8), "zy")]
    # QuantizeLinear's per-channel scale gives one zero point per channel; QLinearConv takes x's as a scalar,
    # so the channel scales only shape the quantized values here.
    inits[1] = nh.from_array(np.array([128] * 3, np.uint8), "z")
    graph = h.make_graph(nodes, "rb", [h.make_tensor_value_info("x", T.FLOAT, ["N", 3, 8, 8])],
                         [h.make_tensor_value_info("y", T.FLOAT, None)], inits)
    m = h.make_model(graph, opset_imports=[h.make_opsetid("", 21)])
    compiled = compile_model(m, tmp_path)
    for n in (1, 3):
        x = RNG.standard_normal((n, 3, 8, 8)).astype(np.float32)
        got = compiled.run(x)[0]
        want = reference(m, {"x": x})[0]
        assert got.shape == want.shape
        assert np.abs(got - want).max() <= 0.1 + 1e-6  # one output step (onnxruntime rounds in f32)


def test_runtime_batch_refuses_dynamic_quantize(tmp_path):
    # DynamicQuantizeLinear's range spans every sample: a run-time batch would mix them.
    nodes = [h.make_node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"])]
    graph = h.make_graph(nodes, "rb", [h.make_tensor_value_info("x", T.FLOAT, ["N", 4])],
                         [h.make_tensor_value_info(n, t, None) for n, t in (("y", T.UINT8), ("s", T.FLOAT), ("z", T.UINT8))])
    m = h.make_model(graph, opset_imports=[h.make_opsetid("", 11)])
    r = subprocess.run([SSMC, "compile", save(m, tmp_path), "-o", str(tmp_path / "l.so")], capture_output=True, text=True)
    assert r.returncode != 0 and "DynamicQuantizeLinear" in r.stderr and "sample" in r.stderr, r.stderr


def test_runtime_batch_matmul_integer(tmp_path):
    # A symbolic batch on A's rows: MatMulInteger keeps samples apart; contracting it is refused.
    b = RNG.integers(-128, 127, (16, 5)).astype(np.int8)
    graph = h.make_graph([h.make_node("MatMulInteger", ["a", "b", "za"], ["y"])], "rb",
                         [h.make_tensor_value_info("a", T.UINT8, ["N", 7, 16])], [h.make_tensor_value_info("y", T.INT32, None)],
                         [nh.from_array(b, "b"), nh.from_array(np.array(9, np.uint8), "za")])
    m = h.make_model(graph, opset_imports=[h.make_opsetid("", 10)])
    compiled = compile_model(m, tmp_path)
    for n in (1, 4):
        a = integer(np.uint8, (n, 7, 16))
        np.testing.assert_array_equal(compiled.run(a)[0], np.matmul(a.astype(np.int64) - 9, b.astype(np.int64)))
    nodes = [h.make_node("Transpose", ["a"], ["at"]), h.make_node("MatMulInteger", ["at", "a"], ["y"])]  # sums over N
    graph = h.make_graph(nodes, "rb", [h.make_tensor_value_info("a", T.UINT8, ["N", 3])],
                         [h.make_tensor_value_info("y", T.INT32, None)])
    m = h.make_model(graph, opset_imports=[h.make_opsetid("", 10)])
    r = subprocess.run([SSMC, "compile", save(m, tmp_path), "-o", str(tmp_path / "l.so")], capture_output=True, text=True)
    assert r.returncode != 0 and "MatMulInteger" in r.stderr, r.stderr
