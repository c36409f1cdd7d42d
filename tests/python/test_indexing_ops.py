"""TopK, GatherND, ScatterND, ScatterElements (and Scatter), OneHot and ReverseSequence compiled by ssmc,
against onnxruntime, the ONNX reference evaluator, or numpy implementations of the spec written here.
Covers what the ONNX backend cases miss: negative axes, ties, duplicates, batch_dims, every reduction,
older opsets, and the documented clamping of out-of-range run-time indices."""
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx.reference import ReferenceEvaluator

from tensor_ops_support import SSMC, check, make_model, run_ort, run_ssmc

rng = np.random.default_rng(11)


def ints(low, high, *shape, dtype=np.int64):
    return rng.integers(low, high, shape).astype(dtype)


def reference(model, inputs):
    return ReferenceEvaluator(model).run(None, inputs)


def compile_error(model):
    """ssmc compile's stderr for a model it must reject (a clean error, not a crash)."""
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "m.onnx"
        onnx.save(model, str(path))
        proc = subprocess.run([SSMC, "compile", str(path), "-o", str(Path(work) / "m.so")], capture_output=True, text=True)
    assert proc.returncode > 0, proc.stderr  # a signal (crash) would be negative
    return proc.stderr


# --- TopK ---------------------------------------------------------------------------------------------------

def topk_numpy(x, k, axis, largest):
    """Stable sort along axis: equal values keep the lower index first."""
    keys = -x.astype(np.float64) if largest else x.astype(np.float64)
    order = np.argsort(keys, axis=axis, kind="stable")
    idx = np.take(order, np.arange(k), axis=axis)
    return np.take_along_axis(x, idx, axis=axis), idx.astype(np.int64)


@pytest.mark.parametrize("axis", [-1, 0, 1, -2])
@pytest.mark.parametrize("largest", [1, 0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.int8, np.uint8])
def test_topk_axes_and_types(axis, largest, dtype):
    x = (rng.standard_normal((4, 9, 5)) * 50).astype(dtype) if np.dtype(dtype).kind == "f" else ints(0 if dtype == np.uint8 else -100, 100, 4, 9, 5, dtype=dtype)
    k = 3 if axis in (0, -2) else 4
    model = make_model("TopK", {"x": x}, {"k": np.array([k], np.int64)}, attrs={"axis": axis, "largest": largest}, outputs=2)
    check(model, {"x": x}, list(topk_numpy(x, k, axis, largest)))


@pytest.mark.parametrize("largest", [1, 0])
def test_topk_ties_keep_lower_index_first(largest):
    x = ints(0, 3, 6, 10)  # many equal values per row
    model = make_model("TopK", {"x": x}, {"k": np.array([7], np.int64)}, attrs={"axis": 1, "largest": largest}, outputs=2)
    check(model, {"x": x}, list(topk_numpy(x, 7, 1, largest)))
    xf = np.array([[1, 2, 2, 1, 2, 0, 2]], np.float32)
    model = make_model("TopK", {"x": xf}, {"k": np.array([5], np.int64)}, attrs={"largest": largest}, outputs=2)
    check(model, {"x": xf}, reference(model, {"x": xf}))


@pytest.mark.parametrize("largest", [1, 0])
def test_topk_nan_as_reference(largest):
    x = np.array([[1.0, np.nan, 3.0, np.nan, -2.0, 3.0], [np.nan, 0.0, 0.0, 5.0, np.nan, 1.0]], np.float32)
    model = make_model("TopK", {"x": x}, {"k": np.array([6], np.int64)}, attrs={"largest": largest}, outputs=2)
    got = run_ssmc(model, {"x": x})
    want = reference(model, {"x": x})
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[0], want[0])  # NaN matches NaN in assert_array_equal


def test_topk_full_sort_and_unsorted():
    x = rng.standard_normal((3, 40)).astype(np.float32)
    model = make_model("TopK", {"x": x}, {"k": np.array([40], np.int64)}, outputs=2)
    check(model, {"x": x}, list(topk_numpy(x, 40, -1, 1)))
    # sorted = 0 leaves the order free: compare the sets of positions.
    model = make_model("TopK", {"x": x}, {"k": np.array([6], np.int64)}, attrs={"sorted": 0}, outputs=2)
    values, positions = run_ssmc(model, {"x": x})
    want_values, want_positions = topk_numpy(x, 6, -1, 1)
    np.testing.assert_array_equal(np.sort(positions, axis=1), np.sort(want_positions, axis=1))
    np.testing.assert_array_equal(np.take_along_axis(x, positions, axis=1), values)


def test_topk_long_rows_two_threads():
    x = rng.standard_normal((64, 3000)).astype(np.float32)
    model = make_model("TopK", {"x": x}, {"k": np.array([5], np.int64)}, attrs={"axis": -1}, outputs=2)
    check(model, {"x": x}, list(topk_numpy(x, 5, -1, 1)), threads=2)


@pytest.mark.parametrize("opset", [1, 10])
def test_topk_old_opsets(opset):
    x = rng.standard_normal((3, 4, 6)).astype(np.float32)
    if opset == 1:
        model = make_model("TopK", {"x": x}, attrs={"k": 2, "axis": 1}, outputs=2, opset=1)
    else:
        model = make_model("TopK", {"x": x}, {"k": np.array([2], np.int64)}, attrs={"axis": 1}, outputs=2, opset=10)
    check(model, {"x": x}, list(topk_numpy(x, 2, 1, 1)))


def test_topk_k_too_large_is_an_error():
    x = rng.standard_normal((2, 3)).astype(np.float32)
    model = make_model("TopK", {"x": x}, {"k": np.array([4], np.int64)}, outputs=2)
    assert "exceeds" in compile_error(model)


# --- GatherND -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data_shape,index_shape,batch_dims", [
    ((4, 5, 6), (3, 2), 0), ((4, 5, 6), (2, 3, 1), 0), ((4, 5, 6), (7, 3), 0),
    ((3, 5, 6), (3, 4, 1), 1), ((3, 5, 6, 2), (3, 2, 2), 1), ((2, 3, 4, 5), (2, 3, 6, 1), 2),
])
def test_gathernd(data_shape, index_shape, batch_dims):
    x = rng.standard_normal(data_shape).astype(np.float32)
    m = index_shape[-1]
    bounds = np.array(data_shape[batch_dims:batch_dims + m])
    idx = (rng.integers(-10**6, 10**6, index_shape) % (2 * bounds) - bounds).astype(np.int64)  # includes negatives
    model = make_model("GatherND", {"x": x, "idx": idx}, attrs={"batch_dims": batch_dims})
    check(model, {"x": x, "idx": idx})


def test_gathernd_int32_data_and_opset_11():
    x = ints(-50, 50, 3, 4, dtype=np.int32)
    idx = np.array([[0, -1], [2, 1], [-3, 0]], np.int64)
    model = make_model("GatherND", {"x": x, "idx": idx}, opset=11)
    check(model, {"x": x, "idx": idx}, [x[idx[:, 0], idx[:, 1]]])


def test_gathernd_out_of_range_indices_are_clamped():
    x = rng.standard_normal((3, 4)).astype(np.float32)
    idx = np.array([[7, 1], [-9, 2], [1, 100]], np.int64)
    model = make_model("GatherND", {"x": x, "idx": idx})
    check(model, {"x": x, "idx": idx}, [x[[2, 0, 1], [1, 2, 3]]])


# --- ScatterND and ScatterElements ---------------------------------------------------------------------------

REDUCE = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}


def scatter_nd_numpy(data, indices, updates, reduction):
    out = data.copy()
    for n in np.ndindex(indices.shape[:-1]):
        at = tuple(int(v) for v in indices[n])
        out[at] = updates[n] if reduction == "none" else REDUCE[reduction](out[at], updates[n])
    return out


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
@pytest.mark.parametrize("index_shape", [(5, 1), (4, 2), (2, 3, 3)])
def test_scatternd(reduction, index_shape):
    data = rng.standard_normal((6, 5, 3)).astype(np.float32)
    m = index_shape[-1]
    count = int(np.prod(index_shape[:-1]))
    if reduction == "none":  # distinct tuples: duplicates have no defined result without a reduction
        flat = rng.choice(int(np.prod(data.shape[:m])), count, replace=False)
        idx = np.stack(np.unravel_index(flat, data.shape[:m]), axis=-1).reshape(index_shape)
    else:  # few tuples to pick from, so duplicates are certain
        idx = rng.integers(0, 2, index_shape)
    idx = idx - np.array(data.shape[:m]) * rng.integers(0, 2, index_shape)  # some negative
    idx = idx.astype(np.int64)
    updates = rng.standard_normal(index_shape[:-1] + data.shape[m:]).astype(np.float32)
    model = make_model("ScatterND", {"data": data, "idx": idx, "updates": updates}, attrs={"reduction": reduction})
    wrapped = np.where(idx < 0, idx + np.array(data.shape[:m]), idx)
    check(model, {"data": data, "idx": idx, "updates": updates}, [scatter_nd_numpy(data, wrapped, updates, reduction)])


def test_scatternd_duplicates_add_int64_against_onnxruntime():
    data = ints(-5, 5, 6, 2)
    idx = np.array([[1], [3], [1], [1], [5], [3]], np.int64)
    updates = ints(-5, 5, 6, 2)
    model = make_model("ScatterND", {"data": data, "idx": idx, "updates": updates}, attrs={"reduction": "add"})
    check(model, {"data": data, "idx": idx, "updates": updates})


def test_scatternd_max_propagates_nan_and_clamps_bad_indices():
    data = np.array([1.0, 2.0, np.nan, 4.0], np.float32)
    idx = np.array([[0], [1], [2], [9]], np.int64)  # 9 is out of range: clamped to the last element
    updates = np.array([np.nan, 0.5, 3.0, 8.0], np.float32)
    model = make_model("ScatterND", {"data": data, "idx": idx, "updates": updates}, attrs={"reduction": "max"})
    check(model, {"data": data, "idx": idx, "updates": updates}, [np.array([np.nan, 2.0, np.nan, 8.0], np.float32)])


def scatter_elements_numpy(data, indices, updates, axis, reduction):
    out = data.copy()
    axis %= data.ndim
    for i in np.ndindex(indices.shape):
        at = list(i)
        at[axis] = int(indices[i]) % data.shape[axis]
        at = tuple(at)
        out[at] = updates[i] if reduction == "none" else REDUCE[reduction](out[at], updates[i])
    return out


@pytest.mark.parametrize("axis", [0, 1, -1, -3])
@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
@pytest.mark.parametrize("index_type", [np.int64, np.int32])
def test_scatter_elements(axis, reduction, index_type):
    data = rng.standard_normal((4, 5, 6)).astype(np.float32)
    shape = (3, 4, 5)  # smaller than data on every axis
    size = data.shape[axis]
    if reduction == "none":  # distinct positions along the axis within each line
        idx = np.argsort(rng.random(shape[:axis % 3] + (size,) + shape[axis % 3 + 1:]), axis=axis % 3)
        idx = np.take(idx, np.arange(shape[axis % 3]), axis=axis % 3)
    else:
        idx = rng.integers(0, 2, shape)  # duplicates
    idx = (idx - size * rng.integers(0, 2, shape)).astype(index_type)  # some negative
    updates = rng.standard_normal(shape).astype(np.float32)
    model = make_model("ScatterElements", {"data": data, "idx": idx, "updates": updates},
                       attrs={"axis": axis, "reduction": reduction})
    check(model, {"data": data, "idx": idx, "updates": updates},
          [scatter_elements_numpy(data, idx, updates, axis, reduction)])


@pytest.mark.parametrize("axis", [0, 1])
def test_scatter_elements_large_duplicates_two_threads(axis):
    data = rng.standard_normal((200, 300)).astype(np.float32)
    idx = rng.integers(0, 7, (200, 300)).astype(np.int64)
    updates = rng.standard_normal((200, 300)).astype(np.float32)
    model = make_model("ScatterElements", {"data": data, "idx": idx, "updates": updates},
                       attrs={"axis": axis, "reduction": "add"})
    want = scatter_elements_numpy(data.astype(np.float64), idx, updates.astype(np.float64), axis, "add")
    check(model, {"data": data, "idx": idx, "updates": updates}, [want.astype(np.float32)], rtol=1e-4, atol=1e-4, threads=2)


def test_scatter_elements_rank1_int_data_against_onnxruntime():
    data = ints(-9, 9, 10)
    idx = np.array([-1, 3, 3, 0], np.int64)
    updates = ints(-9, 9, 4)
    model = make_model("ScatterElements", {"data": data, "idx": idx, "updates": updates}, attrs={"reduction": "mul"})
    check(model, {"data": data, "idx": idx, "updates": updates})


@pytest.mark.parametrize("opset", [9, 10])
def test_scatter_deprecated_op(opset):
    data = np.zeros((3, 4), np.float32)
    idx = np.array([[1, 0, 3], [2, 2, 1]], np.int64)
    updates = rng.standard_normal((2, 3)).astype(np.float32)
    model = make_model("Scatter", {"data": data, "idx": idx, "updates": updates}, attrs={"axis": 1}, opset=opset)
    check(model, {"data": data, "idx": idx, "updates": updates}, [scatter_elements_numpy(data, idx, updates, 1, "none")])


def test_scatter_rejected_from_opset_11_and_max_before_18():
    data = np.zeros((3,), np.float32)
    idx = np.array([1], np.int64)
    updates = np.ones((1,), np.float32)
    model = make_model("Scatter", {"data": data, "idx": idx, "updates": updates}, opset=11)
    assert "deprecated" in compile_error(model)
    model = make_model("ScatterElements", {"data": data, "idx": idx, "updates": updates}, attrs={"reduction": "max"}, opset=16)
    assert "opset 18" in compile_error(model)


# --- OneHot --------------------------------------------------------------------------------------------------

def one_hot_numpy(indices, depth, values, axis, wrap_negative=True):
    whole = np.trunc(indices).astype(np.int64)
    if wrap_negative:
        whole = np.where(whole < 0, whole + depth, whole)
    axis = axis % (indices.ndim + 1)
    hot = np.expand_dims(whole, axis) == np.arange(depth).reshape([-1 if d == axis else 1 for d in range(indices.ndim + 1)])
    return np.where(hot, values[1], values[0]).astype(values.dtype)


@pytest.mark.parametrize("axis", [-1, -2, -3, 0, 1, 2])
def test_onehot_axes(axis):
    idx = ints(-6, 8, 3, 4)  # includes out-of-range values on both sides
    values = np.array([-1.5, 2.0], np.float32)
    model = make_model("OneHot", {"idx": idx}, {"depth": np.array(5, np.int64), "values": values}, attrs={"axis": axis})
    check(model, {"idx": idx}, [one_hot_numpy(idx, 5, values, axis)])


@pytest.mark.parametrize("index_type", [np.float32, np.int32, np.int8, np.uint8])
def test_onehot_index_and_value_types(index_type):
    idx = np.array([[0, 3, -1], [2, -4, 7]]).astype(index_type) if index_type != np.uint8 else np.array([[0, 3, 255], [2, 1, 4]], np.uint8)
    if index_type == np.float32:
        idx = np.array([[0.7, 3.2, -1.5], [2.0, -3.9, 9.0]], np.float32)  # truncated toward zero
    values = np.array([0, 7], np.int32)
    model = make_model("OneHot", {"idx": idx}, {"depth": np.array([4.0], np.float32), "values": values}, attrs={"axis": -2})
    check(model, {"idx": idx}, [one_hot_numpy(idx.astype(np.float64), 4, values, -2)])


def test_onehot_against_onnxruntime():
    idx = ints(-4, 4, 2, 3)
    values = np.array([3.0, -1.0], np.float32)
    model = make_model("OneHot", {"idx": idx}, {"depth": np.array(4, np.int64), "values": values}, attrs={"axis": -3})
    check(model, {"idx": idx})


@pytest.mark.parametrize("opset", [9, 10])
def test_onehot_opset_9_negative_indices_are_off(opset):
    idx = np.array([[0, -1, 3], [-4, 2, 5]], np.int64)
    values = np.array([0.0, 1.0], np.float32)
    model = make_model("OneHot", {"idx": idx}, {"depth": np.array(4, np.int64), "values": values}, opset=opset)
    check(model, {"idx": idx}, [one_hot_numpy(idx, 4, values, -1, wrap_negative=False)])


# --- ReverseSequence -----------------------------------------------------------------------------------------

def reverse_sequence_numpy(x, lens, batch_axis, time_axis):
    out = x.copy()
    for b, n in enumerate(lens):
        n = int(min(max(n, 0), x.shape[time_axis]))
        src = [slice(None)] * x.ndim
        dst = [slice(None)] * x.ndim
        src[batch_axis] = dst[batch_axis] = b
        src[time_axis] = slice(n - 1, None, -1) if n > 0 else slice(0, 0)
        dst[time_axis] = slice(0, n)
        out[tuple(dst)] = x[tuple(src)]
    return out


@pytest.mark.parametrize("batch_axis,time_axis", [(1, 0), (0, 1)])
@pytest.mark.parametrize("shape", [(5, 4), (5, 4, 3), (5, 4, 2, 3)])
def test_reverse_sequence(batch_axis, time_axis, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    lens = rng.integers(0, shape[time_axis] + 1, shape[batch_axis]).astype(np.int64)
    lens[0] = shape[time_axis]
    model = make_model("ReverseSequence", {"x": x, "lens": lens}, attrs={"batch_axis": batch_axis, "time_axis": time_axis})
    check(model, {"x": x, "lens": lens})
    check(model, {"x": x, "lens": lens}, [reverse_sequence_numpy(x, lens, batch_axis, time_axis)])


def test_reverse_sequence_out_of_range_lengths_are_clamped():
    x = ints(-9, 9, 4, 3, dtype=np.int32)
    lens = np.array([9, -2, 2], np.int64)  # beyond the 4 steps, negative, in range
    model = make_model("ReverseSequence", {"x": x, "lens": lens})
    check(model, {"x": x, "lens": lens}, [reverse_sequence_numpy(x, lens, 1, 0)])


# --- A batch size given at run time ----------------------------------------------------------------------------

def batch_model(nodes, inputs, outputs, inits=()):
    """Nodes whose inputs have a symbolic leading dim N (`inputs`: name -> (onnx type, dims))."""
    graph = onnx.helper.make_graph(
        nodes if isinstance(nodes, list) else [nodes], "batch", [onnx.helper.make_tensor_value_info(n, t, d) for n, (t, d) in inputs.items()],
        [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None) for n in outputs],
        [onnx.numpy_helper.from_array(a, n) for n, a in inits])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 21)])
    model.ir_version = 9
    return onnx.shape_inference.infer_shapes(model)  # types the outputs, as onnxruntime requires


F, I = onnx.TensorProto.FLOAT, onnx.TensorProto.INT64
BATCHED = {
    "topk": (onnx.helper.make_node("TopK", ["x", "k"], ["v", "i"]), {"x": (F, ["N", 3, 8])}, ["v", "i"],
             [("k", np.array([3], np.int64))], lambda n: [rng.standard_normal((n, 3, 8)).astype(np.float32)]),
    "onehot": (onnx.helper.make_node("OneHot", ["x", "d", "vals"], ["y"], axis=-2), {"x": (I, ["N", 4])}, ["y"],
               [("d", np.array(5, np.int64)), ("vals", np.array([0.0, 1.0], np.float32))],
               lambda n: [ints(-5, 5, n, 4)]),
    "scatter_elements": (
        onnx.helper.make_node("ScatterElements", ["x", "idx", "u"], ["y"], axis=1, reduction="add"),
        {"x": (F, ["N", 6]), "idx": (I, ["N", 4]), "u": (F, ["N", 4])}, ["y"], [],
        lambda n: [rng.standard_normal((n, 6)).astype(np.float32), ints(-6, 6, n, 4),
                   rng.standard_normal((n, 4)).astype(np.float32)]),
    "gathernd_batch_dims": (
        onnx.helper.make_node("GatherND", ["x", "idx"], ["y"], batch_dims=1),
        {"x": (F, ["N", 5, 3]), "idx": (I, ["N", 2, 1])}, ["y"], [],
        lambda n: [rng.standard_normal((n, 5, 3)).astype(np.float32), ints(-5, 5, n, 2, 1)]),
    "scatternd_tail": (  # the samples along the data's slice axis, inside the graph
        [onnx.helper.make_node("Transpose", ["x"], ["xt"]), onnx.helper.make_node("Transpose", ["u"], ["ut"]),
         onnx.helper.make_node("ScatterND", ["xt", "idx", "ut"], ["yt"], reduction="mul"),
         onnx.helper.make_node("Transpose", ["yt"], ["y"])],
        {"x": (F, ["N", 4]), "u": (F, ["N", 2])}, ["y"], [("idx", np.array([[3], [-4]], np.int64))],
        lambda n: [rng.standard_normal((n, 4)).astype(np.float32), rng.standard_normal((n, 2)).astype(np.float32)]),
    "reverse_sequence": (
        onnx.helper.make_node("ReverseSequence", ["x", "lens"], ["y"], batch_axis=0, time_axis=1),
        {"x": (F, ["N", 6, 2]), "lens": (I, ["N"])}, ["y"], [],
        lambda n: [rng.standard_normal((n, 6, 2)).astype(np.float32), ints(0, 7, n)]),
}


@pytest.mark.parametrize("case", sorted(BATCHED))
def test_run_time_batch(case, tmp_path):
    from ssmc_testing import compile_model, run_onnxruntime
    node, inputs, outputs, inits, make = BATCHED[case]
    model = batch_model(node, inputs, outputs, inits)
    compiled = compile_model(model, tmp_path)
    for n in (1, 3):
        data = make(n)
        for got, want in zip(compiled.run(*data), run_onnxruntime(model, tmp_path, *data)):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


MIXING = {
    "topk along the samples": (onnx.helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=0), ["v", "i"],
                               [("k", np.array([1], np.int64))]),
    "scatter with shared indices": (
        onnx.helper.make_node("ScatterElements", ["x", "idx", "u"], ["y"], axis=1), ["y"],
        [("idx", np.array([[0, 2]], np.int64)), ("u", np.ones((1, 2), np.float32))]),
    "reverse along the samples": (onnx.helper.make_node("ReverseSequence", ["x", "lens"], ["y"]), ["y"],
                                  [("lens", np.array([1, 2, 3], np.int64))]),
}


@pytest.mark.parametrize("case", sorted(MIXING))
def test_run_time_batch_mixing_is_refused(case):
    node, outputs, inits = MIXING[case]
    model = batch_model(node, {"x": (F, ["N", 3])}, outputs, inits)
    assert "mixes the samples" in compile_error(model)
