"""Reductions, ArgMax/ArgMin, CumSum, Softmax/LogSoftmax compiled by ssmc, against numpy float64 or onnxruntime."""
import numpy as np
import pytest

from tensor_ops_support import check, make_model, run_ssmc

rng = np.random.default_rng(11)

REDUCERS = {
    "ReduceSum": lambda x, a, k: np.sum(x, a, keepdims=k),
    "ReduceMean": lambda x, a, k: np.mean(x, a, keepdims=k),
    "ReduceMax": lambda x, a, k: np.max(x, a, keepdims=k),
    "ReduceMin": lambda x, a, k: np.min(x, a, keepdims=k),
    "ReduceProd": lambda x, a, k: np.prod(x, a, keepdims=k),
    "ReduceL1": lambda x, a, k: np.sum(np.abs(x), a, keepdims=k),
    "ReduceL2": lambda x, a, k: np.sqrt(np.sum(x * x, a, keepdims=k)),
    "ReduceSumSquare": lambda x, a, k: np.sum(x * x, a, keepdims=k),
    "ReduceLogSum": lambda x, a, k: np.log(np.sum(x, a, keepdims=k)),
    "ReduceLogSumExp": lambda x, a, k: np.log(np.sum(np.exp(x), a, keepdims=k)),
}


def data(op, shape):
    x = rng.standard_normal(shape)
    if op == "ReduceLogSum":
        x = np.abs(x) + 0.1
    if op == "ReduceProd":
        x = 1 + 0.05 * x
    return x.astype(np.float32)


@pytest.mark.parametrize("op", sorted(REDUCERS))
@pytest.mark.parametrize("axes", [None, (1,), (-1,), (0, 2), (1, 2)])
@pytest.mark.parametrize("keepdims", [0, 1])
def test_reduce(op, axes, keepdims):
    x = data(op, (3, 37, 21))  # 21 and 37: vector tails on both paths
    constants = {"axes": np.array(axes, np.int64)} if axes else {}
    model = make_model(op, {"x": x}, constants, attrs={"keepdims": keepdims}, opset=18)
    want = REDUCERS[op](x.astype(np.float64), axes, bool(keepdims))
    check(model, {"x": x}, [want.astype(np.float32)], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMax", "ReduceLogSumExp", "ReduceMean"])
@pytest.mark.parametrize("axes", [(1,), (2,), (0, 2)])
def test_reduce_large_two_threads(op, axes):
    x = data(op, (8, 300, 257))
    model = make_model(op, {"x": x}, {"axes": np.array(axes, np.int64)}, attrs={"keepdims": 0}, opset=18)
    want = REDUCERS[op](x.astype(np.float64), axes, False)
    got = run_ssmc(model, {"x": x}, threads=2)[0]
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-4)


def test_reduce_noop_with_empty_axes():
    x = data("ReduceSumSquare", (2, 3))
    model = make_model("ReduceSumSquare", {"x": x}, {"axes": np.zeros(0, np.int64)},
                       attrs={"noop_with_empty_axes": 1}, opset=18)
    check(model, {"x": x}, [x * x])


def test_reduce_int64_and_bool():
    x = rng.integers(-50, 50, (4, 5, 6)).astype(np.int64)
    for op, fn in [("ReduceSum", np.sum), ("ReduceMax", np.max), ("ReduceMin", np.min)]:
        for axes in [(1,), (2,), (0, 2)]:
            model = make_model(op, {"x": x}, {"axes": np.array(axes, np.int64)}, opset=18)
            check(model, {"x": x}, [fn(x, axes, keepdims=True)])
    b = rng.random((3, 4, 5)) > 0.7
    for op, fn in [("ReduceMax", np.any), ("ReduceMin", np.all)]:
        for axes in [(1,), (2,)]:
            model = make_model(op, {"b": b}, {"axes": np.array(axes, np.int64)}, attrs={"keepdims": 0}, opset=20)
            check(model, {"b": b}, [fn(b, axes)])


def test_reduce_max_propagates_nan_and_empty_sets():
    x = data("ReduceMax", (3, 4))
    x[1, 2] = np.nan
    got = run_ssmc(make_model("ReduceMax", {"x": x}, {"axes": np.array([1], np.int64)}, opset=18), {"x": x})[0]
    assert np.isnan(got[1, 0]) and not np.isnan(got[[0, 2]]).any()
    e = np.zeros((2, 0, 4), np.float32)
    for op, value in [("ReduceSum", 0.0), ("ReduceProd", 1.0), ("ReduceMax", -np.inf), ("ReduceLogSumExp", -np.inf)]:
        got = run_ssmc(make_model(op, {"e": e}, {"axes": np.array([1], np.int64)}, opset=18), {"e": e})[0]
        np.testing.assert_array_equal(got, np.full((2, 1, 4), value, np.float32))


def test_reduce_log_sum_exp_is_stable():
    x = (rng.standard_normal((4, 50)) * 10 + 500).astype(np.float32)  # exp overflows f32
    model = make_model("ReduceLogSumExp", {"x": x}, {"axes": np.array([1], np.int64)}, opset=18)
    x64 = x.astype(np.float64)
    m = x64.max(1, keepdims=True)
    check(model, {"x": x}, [(np.log(np.exp(x64 - m).sum(1, keepdims=True)) + m).astype(np.float32)], rtol=1e-6)


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("last", [0, 1])
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_arg_reduce(op, axis, last, dtype):
    x = rng.integers(0, 4, (5, 6, 7)).astype(dtype)  # many ties
    model = make_model(op, {"x": x}, attrs={"axis": axis, "keepdims": 0, "select_last_index": last})
    fn = np.argmax if op == "ArgMax" else np.argmin
    want = fn(np.flip(x, axis), axis) if last else fn(x, axis)
    if last:
        want = x.shape[axis] - 1 - want
    check(model, {"x": x}, [want.astype(np.int64)])


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("reverse", [0, 1])
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_cumsum(axis, exclusive, reverse, dtype):
    x = rng.integers(-9, 9, (4, 5, 19)).astype(dtype)
    model = make_model("CumSum", {"x": x}, {"axis": np.array(axis, np.int64)},
                       attrs={"exclusive": exclusive, "reverse": reverse})
    check(model, {"x": x})


def test_cumsum_runtime_axis():
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    for axis in [0, 2, -2]:
        a = np.array(axis, np.int32)
        model = make_model("CumSum", {"x": x, "a": a}, attrs={"reverse": 1})
        check(model, {"x": x, "a": a}, [np.flip(np.cumsum(np.flip(x, axis), axis), axis)], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("shape,axis", [((3, 37), -1), ((2, 5, 300), -1), ((4, 6, 7), 1), ((4, 6, 7), 0), ((64, 1000), 1)])
def test_softmax(op, shape, axis):
    x = (rng.standard_normal(shape) * 5).astype(np.float32)
    x.flat[0] = 80  # exp(80) overflows f32: only a max-shifted softmax gets this right
    model = make_model(op, {"x": x}, attrs={"axis": axis})
    x64 = x.astype(np.float64)
    shifted = x64 - x64.max(axis, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis, keepdims=True))
    want = shifted - log_sum if op == "LogSoftmax" else np.exp(shifted - log_sum)
    check(model, {"x": x}, [want.astype(np.float32)], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("shape,axis", [((3, 37), -1), ((4, 6, 7), 1)])
def test_softmax_float64(op, shape, axis):
    """Double precision: exp(700) overflows unless shifted; the result keeps double accuracy."""
    x = rng.standard_normal(shape) * 5
    x.flat[0] = 700
    model = make_model(op, {"x": x}, attrs={"axis": axis})
    shifted = x - x.max(axis, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis, keepdims=True))
    want = shifted - log_sum if op == "LogSoftmax" else np.exp(shifted - log_sum)
    check(model, {"x": x}, [want], rtol=1e-12, atol=1e-14)
