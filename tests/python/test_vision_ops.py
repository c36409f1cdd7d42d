"""Vision ops compiled by ssmc against onnxruntime (or the ONNX reference evaluator where onnxruntime has no
kernel or departs from the spec): GridSample (every mode x padding x align_corners, 2-D and 3-D, opset-16
names), AffineGrid, RoiAlign (avg/max, adaptive sampling, both coordinate mappings, opset 10),
CenterCropPad, MaxUnpool, Col2Im, MaxRoiPool, and run-time coordinates/indices that must stay in bounds."""
import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from ssmc_testing import assert_close, compile_model, run_onnxruntime

RNG = np.random.default_rng(23)
TYPES = {np.dtype(k): v for k, v in [(np.float32, T.FLOAT), (np.float64, T.DOUBLE), (np.int64, T.INT64), (np.int32, T.INT32),
                                      (np.uint8, T.UINT8)]}


def node_model(op, inputs, constants=(), opset=20, **attrs):
    """One `op` node; `inputs` are (name, array) run-time inputs, `constants` (name, array) initializers,
    in operand order (inputs first, then constants)."""
    names = [n for n, _ in inputs] + [n for n, _ in constants]
    node = h.make_node(op, names, ["y"], **attrs)
    graph = h.make_graph(
        [node], op.lower(), [h.make_tensor_value_info(n, TYPES[a.dtype], list(a.shape)) for n, a in inputs],
        [h.make_tensor_value_info("y", TYPES[inputs[0][1].dtype], None)],
        [nh.from_array(a, n) for n, a in constants])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    model.ir_version = 9
    return model


def check(model, tmp_path, *xs, rtol=1e-4, atol=1e-5, reference=False, threads=0):
    got = compile_model(model, tmp_path, threads=threads).run(*xs)[0]
    if reference:
        from onnx.reference import ReferenceEvaluator
        evaluator = ReferenceEvaluator(model)
        want = evaluator.run(None, dict(zip(evaluator.input_names, xs)))[0]
    else:
        want = run_onnxruntime(model, tmp_path, *xs)[0]
    assert_close(got, want, rtol=rtol, atol=atol)
    return got


def normal(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def uniform(low, high, *shape):
    return RNG.uniform(low, high, shape).astype(np.float32)


# GridSample ---------------------------------------------------------------------------------------------

MODES = ["linear", "nearest", "cubic"]
PADDINGS = ["zeros", "border", "reflection"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("align", [0, 1])
def test_grid_sample_2d(tmp_path, mode, padding, align):
    # Coordinates reach past [-1, 1] so every padding mode decides some samples (reflection several folds deep).
    x = normal(2, 3, 5, 7)
    grid = uniform(-2.7, 2.7, 2, 6, 4, 2)
    m = node_model("GridSample", [("x", x), ("grid", grid)], mode=mode, padding_mode=padding, align_corners=align)
    # For cubic + border, the ONNX reference clamps the coordinate into the image before taking the taps;
    # onnxruntime (like PyTorch) clamps each tap instead. ssmc follows the ONNX reference.
    check(m, tmp_path, x, grid, reference=mode == "cubic" and padding == "border")


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding", PADDINGS)
def test_grid_sample_opset16_names(tmp_path, mode, padding):
    x = normal(1, 2, 6, 5)
    grid = uniform(-1.4, 1.4, 1, 3, 8, 2)
    m = node_model("GridSample", [("x", x), ("grid", grid)], opset=16, mode=mode, padding_mode=padding)
    if mode == "bicubic" and padding == "border":
        # onnxruntime departs from the ONNX reference here (see above); the reference evaluator knows only
        # the opset-20 names, so it runs the same node as cubic.
        got = compile_model(m, tmp_path).run(x, grid)[0]
        from onnx.reference import ReferenceEvaluator
        same = node_model("GridSample", [("x", x), ("grid", grid)], mode="cubic", padding_mode=padding)
        assert_close(got, ReferenceEvaluator(same).run(None, {"x": x, "grid": grid})[0], rtol=1e-4, atol=1e-5)
        return
    check(m, tmp_path, x, grid)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("align", [0, 1])
def test_grid_sample_3d(tmp_path, mode, padding, align):
    # onnxruntime has no volumetric cubic kernel; the reference evaluator covers every mode.
    x = normal(1, 2, 3, 4, 5)
    grid = uniform(-1.8, 1.8, 1, 2, 3, 4, 3)
    m = node_model("GridSample", [("x", x), ("grid", grid)], mode=mode, padding_mode=padding, align_corners=align)
    check(m, tmp_path, x, grid, reference=True, rtol=1e-4, atol=1e-5)


def test_grid_sample_large_threaded(tmp_path):
    x = normal(2, 16, 32, 40)
    grid = uniform(-1.1, 1.1, 2, 48, 48, 2)
    m = node_model("GridSample", [("x", x), ("grid", grid)], mode="linear", padding_mode="border")
    check(m, tmp_path, x, grid, threads=2)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", PADDINGS)
def test_grid_sample_far_and_nan_coordinates_stay_in_bounds(tmp_path, mode, padding):
    # Far-away coordinates must read padding (or the clamped/reflected edge), never memory outside X;
    # a NaN coordinate must not crash and leaves the other positions right.
    x = normal(1, 2, 4, 4)
    grid = np.array([[[[1e30, -1e30], [-3e9, 7e8], [0.25, -0.5], [np.nan, 0.1]]]], np.float32)
    m = node_model("GridSample", [("x", x), ("grid", grid)], mode=mode, padding_mode=padding)
    got = compile_model(m, tmp_path).run(x, grid)[0]
    finite = grid.copy()
    finite[..., 3, :] = 0.0
    from onnx.reference import ReferenceEvaluator
    want = ReferenceEvaluator(m).run(None, {"x": x, "grid": np.clip(finite, -50, 50)})[0]
    assert_close(got[..., 2], want[..., 2], rtol=1e-4, atol=1e-5)
    if padding == "zeros":
        assert np.all(got[..., :2] == 0)
    if padding == "border":
        assert_close(got[..., :2], want[..., :2], rtol=1e-4, atol=1e-5)
    assert np.isfinite(got[..., :3]).all()


# AffineGrid ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("align", [0, 1])
@pytest.mark.parametrize("size", [[2, 3, 5, 7], [1, 1, 1, 4], [2, 1, 3, 4, 5], [1, 2, 1, 1, 3]])
def test_affine_grid(tmp_path, align, size):
    r = len(size) - 2
    theta = normal(size[0], r, r + 1)
    m = node_model("AffineGrid", [("theta", theta)], [("size", np.array(size, np.int64))], align_corners=align)
    # With align_corners an axis of size 1 sits at -1 in the ONNX reference and function body; onnxruntime
    # (like PyTorch) puts it at 0. ssmc follows ONNX.
    check(m, tmp_path, theta, rtol=1e-5, atol=1e-6, reference=align == 1 and 1 in size[2:])


# RoiAlign -----------------------------------------------------------------------------------------------

def roi_boxes(count, height, width, scale=1.0):
    x1 = RNG.uniform(-2, width / scale, count)
    y1 = RNG.uniform(-2, height / scale, count)
    x2 = x1 + RNG.uniform(0.2, width / scale, count)
    y2 = y1 + RNG.uniform(0.2, height / scale, count)
    return np.stack([x1, y1, x2, y2], axis=1).astype(np.float32)


@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("transform", ["half_pixel", "output_half_pixel"])
@pytest.mark.parametrize("ratio", [0, 2])
def test_roi_align(tmp_path, mode, transform, ratio):
    # sampling_ratio 0 picks ceil(roi size / output size) samples per bin for each RoI at run time.
    x = normal(2, 3, 10, 12)
    rois = roi_boxes(5, 10, 12, scale=0.5)
    batch = np.array([0, 1, 1, 0, 1], np.int64)
    m = node_model("RoiAlign", [("x", x), ("rois", rois), ("batch", batch)], opset=16, mode=mode,
                   coordinate_transformation_mode=transform, output_height=3, output_width=4,
                   sampling_ratio=ratio, spatial_scale=0.5)
    check(m, tmp_path, x, rois, batch)


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_roi_align_opset10_maps_output_half_pixel(tmp_path, mode):
    x = normal(1, 2, 8, 8)
    rois = roi_boxes(4, 8, 8)
    batch = np.zeros(4, np.int64)
    m = node_model("RoiAlign", [("x", x), ("rois", rois), ("batch", batch)], opset=10, mode=mode,
                   output_height=2, output_width=3)
    check(m, tmp_path, x, rois, batch)


def test_roi_align_clamps_batch_indices_and_far_rois(tmp_path):
    # Batch indices past either end read the nearest image; RoIs far outside read nothing (0 or padding).
    x = normal(2, 2, 6, 6)
    rois = np.array([[0, 0, 4, 4], [1, 1, 5, 3], [-1e9, -1e9, 1e9, 1e9], [1e4, 1e4, 2e4, 2e4]], np.float32)
    m = node_model("RoiAlign", [("x", x), ("rois", rois), ("batch", np.zeros(4, np.int64))], opset=16,
                   output_height=2, output_width=2, sampling_ratio=2)
    compiled = compile_model(m, tmp_path)
    got = compiled.run(x, rois, np.array([7, -3, 1, 0], np.int64))[0]
    want = run_onnxruntime(m, tmp_path, x, rois, np.array([1, 0, 1, 0], np.int64))[0]
    assert_close(got, want, rtol=1e-4, atol=1e-5)


# CenterCropPad ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,axes", [([3, 8, 5], None), ([6, 2], [1, 2]), ([7, 1], [-3, -1]), ([4], [1])])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.uint8])
def test_center_crop_pad(tmp_path, shape, axes, dtype):
    x = (RNG.standard_normal((5, 4, 6)) * 50).astype(dtype)
    attrs = {} if axes is None else {"axes": axes}
    m = node_model("CenterCropPad", [("x", x)], [("shape", np.array(shape, np.int64))], opset=18, **attrs)
    check(m, tmp_path, x, reference=True)


# MaxUnpool ----------------------------------------------------------------------------------------------

def pooled_with_indices(tmp_path, x, kernel, strides, pads):
    """MaxPool values and indices from onnxruntime."""
    node = h.make_node("MaxPool", ["x"], ["v", "i"], kernel_shape=kernel, strides=strides, pads=pads)
    graph = h.make_graph([node], "pool", [h.make_tensor_value_info("x", T.FLOAT, list(x.shape))],
                         [h.make_tensor_value_info("v", T.FLOAT, None), h.make_tensor_value_info("i", T.INT64, None)])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 12)])
    model.ir_version = 9
    return run_onnxruntime(model, tmp_path, x)


@pytest.mark.parametrize("shape,kernel,strides,pads", [
    ((2, 3, 6, 8), [2, 2], [2, 2], [0, 0, 0, 0]),
    ((1, 2, 7, 7), [3, 3], [2, 2], [1, 1, 1, 1]),
    ((1, 2, 4, 6, 6), [2, 2, 2], [2, 2, 2], [0, 0, 0, 0, 0, 0]),
])
def test_max_unpool(tmp_path, shape, kernel, strides, pads):
    values, indices = pooled_with_indices(tmp_path, normal(*shape), kernel, strides, pads)
    m = node_model("MaxUnpool", [("v", values), ("i", indices)], opset=11, kernel_shape=kernel, strides=strides, pads=pads)
    check(m, tmp_path, values, indices, reference=True)


def test_max_unpool_output_shape_and_bad_indices(tmp_path):
    # With output_shape the unpooled block fills the leading corner (the reference); indices outside the
    # unpooled tensor are dropped instead of written anywhere.
    values, indices = pooled_with_indices(tmp_path, normal(1, 1, 4, 4), [2, 2], [2, 2], [0, 0, 0, 0])
    m = node_model("MaxUnpool", [("v", values), ("i", indices)], [("shape", np.array([1, 1, 5, 5], np.int64))],
                   opset=11, kernel_shape=[2, 2], strides=[2, 2])
    check(m, tmp_path, values, indices, reference=True)
    bad = indices.copy()
    bad[0, 0, 0, 0] = 10**12
    bad[0, 0, 1, 1] = -4
    got = compile_model(m, tmp_path).run(values, bad)[0]
    want = np.zeros((1, 1, 5, 5), np.float32)
    for v, i in zip(values.ravel(), bad.ravel()):
        if 0 <= i < 16:
            want[0, 0, i // 4, i % 4] = v
    assert_close(got, want)


# Col2Im -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("image,block,attrs", [
    ([5, 5], [2, 2], {}),
    ([6, 7], [3, 2], {"strides": [2, 1], "pads": [1, 0, 2, 1], "dilations": [1, 2]}),
    ([4, 5, 3], [2, 2, 1], {"strides": [1, 2, 1]}),
])
def test_col2im(tmp_path, image, block, attrs):
    r = len(image)
    strides = attrs.get("strides", [1] * r)
    pads = attrs.get("pads", [0] * 2 * r)
    dilations = attrs.get("dilations", [1] * r)
    blocks = [(image[i] + pads[i] + pads[i + r] - dilations[i] * (block[i] - 1) - 1) // strides[i] + 1 for i in range(r)]
    x = normal(2, 3 * int(np.prod(block)), int(np.prod(blocks)))
    m = node_model("Col2Im", [("x", x)], [("image", np.array(image, np.int64)), ("block", np.array(block, np.int64))],
                   opset=18, **attrs)
    check(m, tmp_path, x, reference=True)


# MaxRoiPool ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_max_roi_pool(tmp_path, scale):
    x = normal(2, 3, 9, 11)
    boxes = roi_boxes(6, 9, 11, scale=scale)
    batch = np.array([[0], [1], [1], [0], [1], [0]], np.float32)
    rois = np.concatenate([batch, boxes], axis=1)
    m = node_model("MaxRoiPool", [("x", x), ("rois", rois)], opset=1, pooled_shape=[3, 2], spatial_scale=scale)
    check(m, tmp_path, x, rois)


# Run-time batch ------------------------------------------------------------------------------------------

def test_runtime_batch_grid_sample_and_col2im(tmp_path):
    # A symbolic batch dim: each sample samples its own image with its own grid, then folds its own columns.
    nodes = [
        h.make_node("GridSample", ["x", "grid"], ["s"], mode="cubic", padding_mode="reflection"),
        h.make_node("Reshape", ["s", "cols_shape"], ["c"]),
        h.make_node("Col2Im", ["c", "image", "block"], ["y"]),
    ]
    graph = h.make_graph(
        nodes, "batch", [h.make_tensor_value_info("x", T.FLOAT, ["N", 4, 6, 6]),
                         h.make_tensor_value_info("grid", T.FLOAT, ["N", 4, 4, 2])],
        [h.make_tensor_value_info("y", T.FLOAT, None)],
        [nh.from_array(np.array([0, 16, 4], np.int64), "cols_shape"), nh.from_array(np.array([3, 3], np.int64), "image"),
         nh.from_array(np.array([2, 2], np.int64), "block")])
    m = h.make_model(graph, opset_imports=[h.make_opsetid("", 20)])
    m.ir_version = 9
    compiled = compile_model(m, tmp_path)
    for n in (1, 3):
        x, grid = normal(n, 4, 6, 6), uniform(-1.5, 1.5, n, 4, 4, 2)
        assert_close(compiled.run(x, grid)[0], run_onnxruntime(m, tmp_path, x, grid)[0], rtol=1e-4, atol=1e-5)


# Bad nodes ----------------------------------------------------------------------------------------------

def compile_error(model, tmp_path):
    import subprocess
    from ssmc_testing import SSMC, save
    path = save(model, tmp_path)
    result = subprocess.run([SSMC, "compile", path, "-o", str(tmp_path / "lib.so")], capture_output=True, text=True)
    assert result.returncode != 0, "compile should have failed"
    return result.stderr


@pytest.mark.parametrize("op,inputs,constants,opset,attrs,message", [
    ("GridSample", [("x", np.zeros((1, 1, 3, 3), np.float32)), ("grid", np.zeros((1, 2, 2, 2), np.float32))], [], 20,
     {"mode": "bilinear"}, "mode"),
    ("GridSample", [("x", np.zeros((1, 1, 3, 3), np.float32)), ("grid", np.zeros((1, 2, 2, 2), np.float32))], [], 16,
     {"mode": "linear"}, "bilinear"),
    ("GridSample", [("x", np.zeros((1, 1, 3, 3), np.float32)), ("grid", np.zeros((1, 2, 2, 3), np.float32))], [], 20,
     {}, "last dim"),
    ("RoiAlign", [("x", np.zeros((1, 1, 3, 3), np.float32)), ("rois", np.zeros((2, 4), np.float32)),
                  ("b", np.zeros(2, np.int64))], [], 16, {"mode": "min"}, "avg or max"),
    ("Col2Im", [("x", np.zeros((1, 4, 5), np.float32))],
     [("image", np.array([3, 3], np.int64)), ("block", np.array([2, 2], np.int64))], 18, {}, "block positions"),
    ("MaxUnpool", [("x", np.zeros((1, 1, 2, 2), np.float32)), ("i", np.zeros((1, 1, 2, 2), np.int64))],
     [("shape", np.array([1, 1, 3, 3], np.int64))], 11, {"kernel_shape": [2, 2], "strides": [2, 2]}, "output_shape"),
    ("MaxUnpool", [("x", np.zeros((1, 1, 2, 2), np.float32)), ("i", np.zeros((1, 1, 2, 2), np.int64))], [], 11,
     {"kernel_shape": [2, 2], "strides": [2]}, "strides [2] must have 2 entries"),
    ("MaxUnpool", [("x", np.zeros((1, 1, 2, 2), np.float32)), ("i", np.zeros((1, 1, 2, 2), np.int64))], [], 11,
     {"kernel_shape": [2, 0]}, "kernel_shape"),
    ("Col2Im", [("x", np.zeros((1, 4, 4), np.float32))],
     [("image", np.array([3, 3], np.int64)), ("block", np.array([2, 2], np.int64))], 18, {"pads": [1, 1]},
     "pads [1, 1] must have 4 entries"),
    ("Col2Im", [("x", np.zeros((1, 4, 4), np.float32))],
     [("image", np.array([3, 3], np.int64)), ("block", np.array([2, 2], np.int64))], 18, {"dilations": [1, 0]},
     "dilations"),
])
def test_bad_nodes_are_reported(tmp_path, op, inputs, constants, opset, attrs, message):
    stderr = compile_error(node_model(op, inputs, constants, opset=opset, **attrs), tmp_path)
    assert op in stderr and message in stderr, stderr
