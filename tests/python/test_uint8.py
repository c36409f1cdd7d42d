"""uint8 tensors: values above 127 must compare, divide, convert and reduce as unsigned; sums and products
wrap modulo 256. References are numpy (uint8 arithmetic, or float64 for conversions)."""
import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from ssmc_testing import compile_model

rng = np.random.default_rng(11)
U8 = T.UINT8


def model(op, input_types, shapes, out_type, attrs=None, opset=20):
    names = [f"x{i}" for i in range(len(shapes))]
    infos = [h.make_tensor_value_info(n, t, s) for n, t, s in zip(names, input_types, shapes)]
    node = h.make_node(op, names, ["y"], **(attrs or {}))
    graph = h.make_graph([node], "g", infos, [h.make_tensor_value_info("y", out_type, None)])
    return h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])


def subdir(tmp_path, name):
    d = tmp_path / name
    d.mkdir()
    return d


def u8(*shape):
    # Both halves of the range, with the edges, so a signed reading of the byte would be caught.
    x = rng.integers(0, 256, shape).astype(np.uint8)
    x.flat[:4] = [0, 127, 128, 255][: x.size]
    return x


BINARY = {
    "Add": lambda a, b: a + b, "Sub": lambda a, b: a - b, "Mul": lambda a, b: a * b,
    "Max": np.maximum, "Min": np.minimum,
}


@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_wraps_and_orders_unsigned(op, tmp_path):
    a, b = u8(5, 37), u8(37)
    got = compile_model(model(op, [U8, U8], [a.shape, b.shape], U8), tmp_path).run(a, b)[0]
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, BINARY[op](a, b))


def test_div_and_mod_are_unsigned(tmp_path):
    a, b = u8(4, 33), u8(4, 33)
    b[b == 0] = 3
    b.flat[0], a.flat[0] = 200, 255  # 255 / 200 == 1 unsigned; as int8 it would be -1 / -56 == 0
    np.testing.assert_array_equal(compile_model(model("Div", [U8, U8], [a.shape] * 2, U8), tmp_path).run(a, b)[0], a // b)
    np.testing.assert_array_equal(compile_model(model("Mod", [U8, U8], [a.shape] * 2, U8), subdir(tmp_path, "m")).run(a, b)[0], a % b)


@pytest.mark.parametrize("op,fn", [("Greater", np.greater), ("Less", np.less), ("Equal", np.equal),
                                   ("GreaterOrEqual", np.greater_equal), ("LessOrEqual", np.less_equal)])
def test_comparisons_are_unsigned(op, fn, tmp_path):
    a, b = u8(6, 20), u8(20)
    got = compile_model(model(op, [U8, U8], [a.shape, b.shape], T.BOOL), tmp_path).run(a, b)[0]
    np.testing.assert_array_equal(got, fn(a, b))


@pytest.mark.parametrize("to,dtype", [(T.FLOAT, np.float32), (T.INT64, np.int64), (T.INT32, np.int32), (T.DOUBLE, np.float64)])
def test_cast_from_uint8_is_zero_extended(to, dtype, tmp_path):
    x = u8(3, 50)
    got = compile_model(model("Cast", [U8], [x.shape], to, {"to": to}), tmp_path).run(x)[0]
    np.testing.assert_array_equal(got, x.astype(np.float64).astype(dtype))


@pytest.mark.parametrize("source,dtype", [(T.INT64, np.int64), (T.INT32, np.int32), (T.INT8, np.int8), (T.FLOAT, np.float32)])
def test_cast_to_uint8(source, dtype, tmp_path):
    if dtype == np.float32:
        x = rng.uniform(0, 255.9, (4, 40)).astype(np.float32)  # in range: out-of-range float casts are undefined
    else:
        x = rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max, (4, 40), endpoint=True).astype(dtype)
    got = compile_model(model("Cast", [source], [x.shape], U8, {"to": U8}), tmp_path).run(x)[0]
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, x.astype(np.uint8))  # integers wrap modulo 256


@pytest.mark.parametrize("op,fn", [("ReduceMax", np.max), ("ReduceMin", np.min)])
def test_reduce_max_min_unsigned(op, fn, tmp_path):
    x = u8(7, 45)
    m = model(op, [U8], [x.shape], U8, {"keepdims": 0}, opset=18)
    m.graph.node[0].input.append("axes")
    m.graph.initializer.append(h.make_tensor("axes", T.INT64, [1], [1]))
    np.testing.assert_array_equal(compile_model(m, tmp_path).run(x)[0], fn(x, axis=1))


def test_argmax_unsigned(tmp_path):
    x = u8(9, 31)
    got = compile_model(model("ArgMax", [U8], [x.shape], T.INT64, {"axis": 1, "keepdims": 0}), tmp_path).run(x)[0]
    np.testing.assert_array_equal(got, np.argmax(x, axis=1))


def test_maxpool_uint8(tmp_path):
    x = u8(1, 2, 6, 6)
    got = compile_model(model("MaxPool", [U8], [x.shape], U8, {"kernel_shape": [2, 2], "strides": [2, 2]}, opset=12), tmp_path).run(x)[0]
    np.testing.assert_array_equal(got, x.reshape(1, 2, 3, 2, 3, 2).max(axis=(3, 5)))


def test_where_and_transpose_move_bytes(tmp_path):
    c = rng.integers(0, 2, (4, 5)).astype(bool)
    a, b = u8(4, 5), u8(4, 5)
    got = compile_model(model("Where", [T.BOOL, U8, U8], [c.shape, a.shape, b.shape], U8), tmp_path).run(c, a, b)[0]
    np.testing.assert_array_equal(got, np.where(c, a, b))
    x = u8(3, 4, 5)
    t = compile_model(model("Transpose", [U8], [x.shape], U8, {"perm": [2, 0, 1]}), subdir(tmp_path, "t")).run(x)[0]
    np.testing.assert_array_equal(t, x.transpose(2, 0, 1))
