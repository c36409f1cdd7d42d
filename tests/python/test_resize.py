"""Resize (and the deprecated Upsample) compiled by ssmc against onnxruntime: every mode, coordinate mapping,
nearest rounding, antialias, axes, sizes with keep_aspect_ratio_policy, roi, legacy opsets and element types."""
import subprocess

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from ssmc_testing import SSMC, assert_close, compile_model, run_onnxruntime, save

RNG = np.random.default_rng(11)
TYPES = {np.float32: T.FLOAT, np.float64: T.DOUBLE, np.uint8: T.UINT8, np.int8: T.INT8, np.int64: T.INT64}


def resize_model(x, scales=None, sizes=None, roi=None, opset=19, op="Resize", dims=None, **attrs):
    """One Resize node reading X; scales/sizes/roi become initializers (absent ones are empty names)."""
    inits, names = [], ["x"]
    if op == "Resize" and opset >= 11:
        for name, value, dtype in (("roi", roi, np.float32), ("scales", scales, np.float32), ("sizes", sizes, np.int64)):
            if value is None:
                names.append("")
            else:
                names.append(name)
                inits.append(nh.from_array(np.asarray(value, dtype), name))
        while names[-1] == "":
            names.pop()
    elif scales is not None and not (op == "Upsample" and opset < 9):
        names.append("scales")
        inits.append(nh.from_array(np.asarray(scales, np.float32), "scales"))
    node = h.make_node(op, names, ["y"], **attrs)
    xtype = TYPES[x.dtype.type]
    graph = h.make_graph([node], "resize", [h.make_tensor_value_info("x", xtype, dims or list(x.shape))],
                         [h.make_tensor_value_info("y", xtype, None)], inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    model.ir_version = 9
    return model


def check(model, tmp_path, x, rtol=1e-5, atol=1e-5, threads=0, reference=False):
    """Compares ssmc with onnxruntime, or with the ONNX reference evaluator where onnxruntime has no kernel
    or departs from the spec (align_corners at non-integer scales: it divides by the rounded output size)."""
    got = compile_model(model, tmp_path, threads=threads).run(x)[0]
    if reference:
        from onnx.reference import ReferenceEvaluator
        want = ReferenceEvaluator(model).run(None, {"x": x})[0]
    else:
        want = run_onnxruntime(model, tmp_path, x)[0]
    assert_close(got, want, rtol=rtol, atol=atol)
    return got


def image(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


COORDINATES = ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric"]


@pytest.mark.parametrize("coordinates", COORDINATES)
def test_bilinear_2x_upsampling_nchw(tmp_path, coordinates):
    # What torch.nn.functional.interpolate(scale_factor=2, mode="bilinear") exports, large enough to run
    # on the thread pool.
    x = image(2, 8, 40, 48)
    m = resize_model(x, scales=[1, 1, 2, 2], mode="linear", coordinate_transformation_mode=coordinates)
    assert check(m, tmp_path, x, threads=2).shape == (2, 8, 80, 96)


@pytest.mark.parametrize("mode", ["linear", "cubic"])
@pytest.mark.parametrize("coordinates", COORDINATES)
@pytest.mark.parametrize("scales", [[1, 1, 1.7, 0.63], [1, 1, 0.45, 2.3]])
def test_non_integer_scales(tmp_path, mode, coordinates, scales):
    x = image(1, 3, 9, 11)
    m = resize_model(x, scales=scales, mode=mode, coordinate_transformation_mode=coordinates)
    check(m, tmp_path, x, reference=coordinates == "align_corners")


@pytest.mark.parametrize("nearest", ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"])
@pytest.mark.parametrize("coordinates", COORDINATES)
def test_nearest_rounding(tmp_path, nearest, coordinates):
    x = image(2, 3, 7, 10)
    m = resize_model(x, scales=[1, 1, 1.5, 0.75], mode="nearest", nearest_mode=nearest,
                     coordinate_transformation_mode=coordinates)
    # onnxruntime departs from the spec's half_pixel_symmetric offset when rounding up.
    check(m, tmp_path, x, rtol=0, atol=0, reference=coordinates in ("align_corners", "half_pixel_symmetric"))


def test_output_size_is_computed_in_float64(tmp_path):
    # floor(10 * float32(0.7)) is 6 in float64 (the ONNX reference and shape inference) but 7 in float32
    # (onnxruntime): ssmc follows ONNX.
    x = image(1, 2, 10, 100)
    got = check(resize_model(x, scales=[1, 1, 0.7, 2.3], mode="linear"), tmp_path, x, reference=True)
    assert got.shape == (1, 2, 6, 229)


@pytest.mark.parametrize("mode", ["linear", "cubic"])
@pytest.mark.parametrize("scales", [[1, 1, 0.5, 0.5], [1, 1, 0.3, 0.77], [1, 1, 0.26, 1.5], [1, 1, 0.5, 0.2]])
def test_antialias_downsampling(tmp_path, mode, scales):
    x = image(1, 2, 23, 19)
    check(resize_model(x, scales=scales, mode=mode, antialias=1), tmp_path, x)


def test_antialias_sizes_with_axes(tmp_path):
    x = image(2, 40, 36, 3)  # NHWC: the resized axes are not the last
    check(resize_model(x, sizes=[9, 14], axes=[1, 2], mode="cubic", antialias=1), tmp_path, x)


@pytest.mark.parametrize("a,exclude", [(-0.5, 1), (-0.75, 1), (-0.6, 0)])
def test_cubic_coefficient_and_exclude_outside(tmp_path, a, exclude):
    x = image(1, 1, 8, 9)
    m = resize_model(x, scales=[1, 1, 1.8, 0.6], mode="cubic", cubic_coeff_a=a, exclude_outside=exclude)
    check(m, tmp_path, x)


@pytest.mark.parametrize("axes,scales", [([2, 3], [2, 3]), ([-1], [0.5]), ([1], [2.5]), ([3, 1], [1.5, 0.5])])
def test_axes_subset(tmp_path, axes, scales):
    x = image(2, 4, 6, 8)
    # onnxruntime's linear kernel takes only some axis patterns.
    check(resize_model(x, scales=scales, axes=axes, mode="linear"), tmp_path, x, reference=axes == [3, 1])


@pytest.mark.parametrize("policy", ["stretch", "not_larger", "not_smaller"])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_sizes_keep_aspect_ratio(tmp_path, policy, mode):
    x = image(1, 2, 12, 20)
    got = check(resize_model(x, sizes=[7, 9], axes=[2, 3], mode=mode, keep_aspect_ratio_policy=policy), tmp_path, x)
    expected = {"stretch": (7, 9), "not_larger": (5, 9), "not_smaller": (7, 12)}[policy]
    assert got.shape[2:] == expected


@pytest.mark.parametrize("mode", ["linear", "nearest", "cubic"])
def test_tf_crop_and_resize_with_extrapolation(tmp_path, mode):
    x = image(1, 3, 10, 12)
    m = resize_model(x, sizes=[6, 7], roi=[-0.2, 0.1, 0.9, 1.3], axes=[2, 3], mode=mode,
                     coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=4.5)
    got = check(m, tmp_path, x)
    assert (got == np.float32(4.5)).any()


def test_exclude_outside_with_antialias(tmp_path):
    x = image(1, 2, 16, 15)
    m = resize_model(x, scales=[1, 1, 0.4, 0.35], mode="linear", antialias=1, exclude_outside=1)
    got = check(m, tmp_path, x)
    attributes = m.graph.node[0].attribute
    attributes.remove(next(a for a in attributes if a.name == "exclude_outside"))  # it changes the edges here
    assert not np.allclose(got, run_onnxruntime(m, tmp_path, x)[0], rtol=1e-3)


def test_nearest_uint8_crop_fills_extrapolation_value(tmp_path):
    x = RNG.integers(0, 200, (1, 2, 6, 7)).astype(np.uint8)
    m = resize_model(x, sizes=[5, 4], roi=[-0.3, 0.2, 1.1, 0.8], axes=[2, 3], mode="nearest",
                     coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=7.0)
    got = check(m, tmp_path, x, rtol=0, atol=0, reference=True)
    assert (got[:, :, 0, :] == 7).all()


@pytest.mark.parametrize("opset", [11, 13])
def test_sizes_with_empty_roi_and_scales(tmp_path, opset):
    # How PyTorch exports interpolate(size=...) at opset 11: empty roi and scales tensors, then sizes.
    x = image(1, 3, 5, 6)
    m = resize_model(x, roi=[], scales=[], sizes=[1, 3, 9, 4], opset=opset, mode="linear",
                     coordinate_transformation_mode="pytorch_half_pixel")
    check(m, tmp_path, x)


def test_scales_given_at_run_time_are_refused(tmp_path):
    node = h.make_node("Resize", ["x", "", "scales"], ["y"], mode="linear")
    graph = h.make_graph([node], "resize", [h.make_tensor_value_info("x", T.FLOAT, [1, 1, 4, 4]),
                                            h.make_tensor_value_info("scales", T.FLOAT, [4])],
                         [h.make_tensor_value_info("y", T.FLOAT, None)])
    m = h.make_model(graph, opset_imports=[h.make_opsetid("", 19)])
    assert "compile-time constant" in compile_error(m, tmp_path)


def test_trilinear_5d(tmp_path):
    x = image(1, 2, 5, 6, 7)
    check(resize_model(x, scales=[1, 1, 2, 1.5, 0.8], mode="linear"), tmp_path, x)


@pytest.mark.parametrize("mode,tolerance", [("linear", 1e-12), ("cubic", 1e-6)])
def test_rank_1_and_float64(tmp_path, mode, tolerance):
    # The reference evaluates cubic weights in float32 (its float32 cubic_coeff_a wins numpy's promotion),
    # so only linear can be held to float64 precision.
    x = image(17, dtype=np.float64)
    check(resize_model(x, scales=[2.2], mode=mode), tmp_path, x, rtol=tolerance, atol=tolerance, reference=True)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int64])
def test_nearest_integer_types(tmp_path, dtype):
    x = RNG.integers(-100 if dtype != np.uint8 else 0, 100, (1, 3, 5, 6)).astype(dtype)
    m = resize_model(x, scales=[1, 1, 2, 1.5], mode="nearest")
    check(m, tmp_path, x, rtol=0, atol=0, reference=dtype == np.int64)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("op,opset", [("Upsample", 7), ("Upsample", 9), ("Resize", 10)])
def test_legacy_forms(tmp_path, op, opset, mode):
    x = image(1, 2, 5, 7)
    scales = [1, 1, 2, 1.5]
    m = resize_model(x, scales=scales, opset=opset, op=op, mode=mode)
    if opset == 7:
        m.graph.node[0].attribute.append(h.make_attribute("scales", scales))
    check(m, tmp_path, x)


def test_resize_10_downsampling_rounds_up(tmp_path):
    # Resize-10 names no rounding; onnxruntime takes the ceiling when an axis shrinks.
    x = image(1, 1, 10, 10)
    check(resize_model(x, scales=[1, 1, 0.6, 0.35], opset=10, mode="nearest"), tmp_path, x, rtol=0, atol=0)


def test_resize_11_tf_half_pixel_for_nn(tmp_path):
    x = image(1, 2, 6, 7)
    m = resize_model(x, scales=[1, 1, 1.7, 0.6], roi=[], opset=11, mode="nearest",
                     coordinate_transformation_mode="tf_half_pixel_for_nn")
    check(m, tmp_path, x, rtol=0, atol=0)


def test_run_time_batch_keeps_axis_0(tmp_path):
    m = resize_model(image(1, 3, 4, 5), scales=[1, 1, 2, 2], mode="linear", dims=["N", 3, 4, 5])
    compiled = compile_model(m, tmp_path)
    for n in (1, 3):
        x = image(n, 3, 4, 5)
        assert_close(compiled.run(x)[0], run_onnxruntime(m, tmp_path, x)[0], what=f"batch {n}")


def compile_error(model, tmp_path):
    path = save(model, tmp_path, "bad.onnx")
    result = subprocess.run([SSMC, "compile", path, "-o", str(tmp_path / "bad.so")], capture_output=True, text=True)
    assert result.returncode != 0
    return result.stderr


@pytest.mark.parametrize("kwargs,message", [
    ({"scales": [2, 1, 1, 1], "mode": "linear", "dims": ["N", 3, 4, 5]}, "mixes the samples"),
    ({"scales": [1, 1, 2, 2], "mode": "nearest", "antialias": 1}, "antialias"),
    ({"scales": [1, 1, 2, 2], "sizes": [1, 3, 8, 10]}, "not both"),
    ({"scales": [1, 1, 2], "mode": "linear"}, "3 scales for 4 axes"),
    ({"scales": [1, 1, 2, 2], "mode": "bicubic"}, "mode"),
    ({"scales": [1, 1, 2, 2], "coordinate_transformation_mode": "center"}, "coordinate_transformation_mode"),
    ({"sizes": [3, 4], "axes": [2, 2]}, "repeats"),
])
def test_bad_nodes_are_refused(tmp_path, kwargs, message):
    stderr = compile_error(resize_model(image(1, 3, 4, 5), **kwargs), tmp_path)
    assert message in stderr, stderr
