"""MatMulInteger, QLinearMatMul (per-row / per-column parameters), ConvInteger and QLinearConv (groups, strides,
dilations, padding, per-channel weights) compiled by ssmc, against numpy int64 products and onnxruntime."""
import subprocess

import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from quantization_support import RNG, conv_reference, integer, one_node, qlinear_reference, run
from ssmc_testing import SSMC, compile_model, run_onnxruntime, save


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
