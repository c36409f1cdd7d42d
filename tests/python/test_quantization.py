"""QuantizeLinear / DequantizeLinear (per tensor, per axis with negative axes, blocked, output_dtype, old opsets,
ties and saturation, constant folding of QDQ weights) and DynamicQuantizeLinear compiled by ssmc, against numpy,
onnxruntime and the ONNX reference evaluator. The integer products are in test_quantized_products.py."""
import subprocess

import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from quantization_support import RANGE, RNG, one_node, quantize_f32, reference, run, subdir
from ssmc_testing import SSMC, assert_close, compile_model, emitted_ir, run_onnxruntime, save


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
    back = compile_model(dq, subdir(tmp_path, "dq")).run(*dq_inputs.values())[0]
    want = ((got.astype(np.float64) - full_zero) * full_scale).astype(np.float32)
    assert_close(back, want, rtol=0, atol=0)


def test_quantize_output_dtype_without_zero_point(tmp_path):
    x = (RNG.standard_normal(40) * 100).astype(np.float32)
    inputs = {"x": x, "s": np.array(0.5, np.float32)}
    m = one_node("QuantizeLinear", inputs, output_dtype=T.INT8)
    got = run(m, tmp_path, inputs)[0]
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, quantize_f32(x, np.float32(0.5), 0.0, np.int8))
    # Without zero point and output_dtype the result is u8.
    m = one_node("QuantizeLinear", inputs)
    got = compile_model(m, subdir(tmp_path, "u8")).run(*inputs.values())[0]
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
    back = compile_model(dq, subdir(tmp_path, "dq")).run(*dq_inputs.values())[0]
    assert_close(back, run_onnxruntime(dq, subdir(tmp_path, "dq"), *dq_inputs.values())[0], rtol=0, atol=0)


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
