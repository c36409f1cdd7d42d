"""Data-movement ops compiled by ssmc against onnxruntime (bit-exact: these ops only move elements)."""
import numpy as np
import pytest

from tensor_ops_support import check, make_model, run_ssmc

rng = np.random.default_rng(7)


def rand(*shape, dtype=np.float32):
    if dtype == np.bool_:
        return rng.random(shape) > 0.5
    if np.dtype(dtype).kind == "i":
        return rng.integers(-1000, 1000, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def i64(*values):
    return np.array(values, np.int64)


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_])
@pytest.mark.parametrize("shape,perm", [
    ((2, 3, 4), None), ((2, 3, 4), [0, 2, 1]), ((5, 7), [1, 0]), ((2, 3, 4, 5), [3, 1, 0, 2]),
    ((67, 45), [1, 0]),  # tiled path with ragged tiles
    ((3, 130, 70), [0, 2, 1]),  # tiled path with an outer dim, above the parallel threshold
])
def test_transpose(shape, perm, dtype):
    x = rand(*shape, dtype=dtype)
    attrs = {"perm": perm} if perm else {}
    model = make_model("Transpose", {"x": x}, attrs=attrs)
    check(model, {"x": x}, [np.transpose(x, perm)])


def test_transpose_two_threads():
    x = rand(4, 256, 96)
    model = make_model("Transpose", {"x": x}, attrs={"perm": [2, 0, 1]})
    got = run_ssmc(model, {"x": x}, threads=2)[0]
    np.testing.assert_array_equal(got, np.transpose(x, (2, 0, 1)))


@pytest.mark.parametrize("shape,target,expected", [
    ((2, 3, 4), i64(4, 0, -1), (4, 3, 2)), ((2, 3, 4), i64(-1), (24,)), ((2, 3, 4), i64(0, 0, 2, 2), (2, 3, 2, 2)),
])
def test_reshape(shape, target, expected):
    x = rand(*shape, dtype=np.int64)
    model = make_model("Reshape", {"x": x}, {"shape": target})
    check(model, {"x": x}, [x.reshape(expected)])


@pytest.mark.parametrize("op,constants,attrs,fn", [
    ("Flatten", {}, {"axis": -2}, lambda x: x.reshape(6, 20)),
    ("Flatten", {}, {"axis": 0}, lambda x: x.reshape(1, 120)),
    ("Squeeze", {"axes": i64(-2)}, {}, lambda x: x.reshape(2, 3, 4, 5)),
    ("Unsqueeze", {"axes": i64(0, -1)}, {}, lambda x: x.reshape(1, 2, 3, 4, 1, 5, 1)),
])
def test_reshape_like(op, constants, attrs, fn):
    x = rand(2, 3, 4, 1, 5)
    if op == "Flatten":
        x = rand(2, 3, 4, 5)
    model = make_model(op, {"x": x}, constants, attrs=attrs)
    check(model, {"x": x}, [fn(x)])


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat(axis, dtype):
    parts = [rand(2, 3, 4, dtype=dtype), rand(2, 3, 4, dtype=dtype), rand(2, 3, 4, dtype=dtype)]
    inputs = {f"x{i}": p for i, p in enumerate(parts)}
    model = make_model("Concat", inputs, attrs={"axis": axis})
    check(model, inputs, [np.concatenate(parts, axis)])


def test_concat_with_constant_and_empty_part():
    a, b = rand(2, 3), rand(2, 0)
    model = make_model("Concat", {"a": a, "b": b}, {"c": np.ones((2, 2), np.float32)}, attrs={"axis": 1})
    check(model, {"a": a, "b": b}, [np.concatenate([a, b, np.ones((2, 2), np.float32)], 1)])


def test_split_sizes_and_num_outputs():
    x = rand(4, 7, 3)
    model = make_model("Split", {"x": x}, {"split": i64(2, 0, 5)}, attrs={"axis": -2}, outputs=3)
    check(model, {"x": x}, np.split(x, [2, 2], axis=1))
    model = make_model("Split", {"x": x}, attrs={"axis": 1, "num_outputs": 3}, outputs=3)
    check(model, {"x": x}, np.split(x, [3, 6], axis=1))


@pytest.mark.parametrize("starts,ends,axes,steps", [
    (i64(1, 0), i64(3, 10), i64(0, 1), i64(1, 1)),
    (i64(-1), i64(-1000), i64(1), i64(-1)),  # reverse an axis
    (i64(10, 4), i64(0, -100), i64(-1, 0), i64(-3, -2)),  # negative steps on two axes, clamped ends
    (i64(0, 1), i64(100, 100), i64(2, 1), i64(2, 3)),
])
def test_slice(starts, ends, axes, steps):
    x = rand(5, 6, 12)
    model = make_model("Slice", {"x": x}, {"starts": starts, "ends": ends, "axes": axes, "steps": steps})
    check(model, {"x": x})


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather_runtime_indices(axis):
    x = rand(4, 5, 6)
    n = x.shape[axis]
    idx = np.array([[0, -1], [n - 1, -n], [1, 2]], np.int64)
    model = make_model("Gather", {"x": x, "idx": idx}, attrs={"axis": axis})
    check(model, {"x": x, "idx": idx}, [np.take(x, np.where(idx < 0, idx + n, idx), axis=axis)])


def test_gather_int32_indices_and_scalar_index():
    x = rand(7, 3, dtype=np.int64)
    model = make_model("Gather", {"x": x}, {"i": np.array(-2, np.int32)}, attrs={"axis": 0})
    check(model, {"x": x}, [x[-2]])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather_elements(axis):
    x = rand(3, 4, 5)
    n = x.shape[axis]
    shape = list(x.shape)
    shape[axis] = 6
    idx = rng.integers(-n, n, shape).astype(np.int64)
    model = make_model("GatherElements", {"x": x, "idx": idx}, attrs={"axis": axis})
    check(model, {"x": x, "idx": idx}, [np.take_along_axis(x, np.where(idx < 0, idx + n, idx), axis)])


def test_expand_and_tile():
    x = rand(3, 1, 4)
    check(make_model("Expand", {"x": x}, {"s": i64(2, 1, 5, 1)}), {"x": x}, [np.broadcast_to(x, (2, 3, 5, 4))])
    y = rand(2, 3, 4, dtype=np.int64)
    check(make_model("Tile", {"y": y}, {"r": i64(3, 1, 2)}), {"y": y}, [np.tile(y, (3, 1, 2))])
    big = rand(2, 3, 4, 5)  # above the parallel threshold
    check(make_model("Tile", {"big": big}, {"r": i64(7, 6, 4, 2)}), {"big": big}, [np.tile(big, (7, 6, 4, 2))])


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
@pytest.mark.parametrize("pads", [i64(1, 2, 3, 2, 1, 0), i64(0, -1, 2, 1, 2, -2)])
def test_pad(mode, pads):
    x = rand(3, 4, 5)
    model = make_model("Pad", {"x": x}, {"pads": pads, "value": np.array(1.5, np.float32)}, attrs={"mode": mode})
    check(model, {"x": x})


def test_pad_axes_runtime_value():
    x = rand(2, 3, 4)
    v = np.array(-7.0, np.float32)
    model = make_model("Pad", {"x": x, "v": v}, {"pads": i64(1, 2, 0, 3), "axes": i64(-1, 0)},
                       order=["x", "pads", "v", "axes"])
    check(model, {"x": x, "v": v}, [np.pad(x, ((2, 3), (0, 0), (1, 0)), constant_values=-7.0)])


@pytest.mark.parametrize("dtype, value", [(np.bool_, True), (np.int64, -123456789012), (np.float64, -2.5),
                                          (np.uint8, 200), (np.float32, None)])
def test_constant_pad_value_moves_bit_for_bit(dtype, value):
    # The fill stores the pad value's bits (zero bits when it is absent) in every element type.
    x = rand(2, 3, 4, dtype=dtype) if dtype != np.uint8 else rng.integers(0, 255, (2, 3, 4)).astype(np.uint8)
    constants = {"pads": i64(1, 0, 2, 0, 2, 1), "value": None if value is None else np.array(value, dtype)}
    model = make_model("Pad", {"x": x}, constants)
    want = np.pad(x, ((1, 0), (0, 2), (2, 1)), constant_values=0 if value is None else value)
    check(model, {"x": x}, [want])


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_to_space_round_trip(mode):
    x = rand(2, 12, 3, 5)
    check(make_model("DepthToSpace", {"x": x}, attrs={"blocksize": 2, "mode": mode}), {"x": x})
    y = rand(2, 3, 6, 4)
    check(make_model("SpaceToDepth", {"y": y}, attrs={"blocksize": 2}), {"y": y})


@pytest.mark.parametrize("passes", [None, "shape-inference"])
def test_shape_sources(passes):
    """Shape-math ops: folded by default, and computed at compile time by their lowering without folding."""
    extra = ("--passes", passes) if passes else ()
    x = rand(2, 3, 4)
    got = run_ssmc(make_model("Shape", {"x": x}, attrs={"start": 1}), {"x": x}, extra=extra)[0]
    np.testing.assert_array_equal(got, i64(3, 4))
    got = run_ssmc(make_model("Size", {"x": x}), {"x": x}, extra=extra)[0]
    assert got.shape == () and got == 24
    model = make_model("Range", {"x": x}, {"a": np.array(5, np.int64), "b": np.array(-4, np.int64), "d": np.array(-3, np.int64)},
                       order=["a", "b", "d"])
    model.graph.input.pop()  # no graph input is used by Range; drop x
    got = run_ssmc(model, {}, extra=extra)[0]
    np.testing.assert_array_equal(got, np.arange(5, -4, -3))
