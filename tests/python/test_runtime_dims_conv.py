"""Convolutions, pools, reductions and Gemm over extents given at run time: each model keeps symbolic spatial
dims (or a symbolic row count), compiles once, and runs at many sizes, matching onnxruntime at every size that
onnxruntime accepts for the model (sizes too small for an unpadded window are skipped, as it rejects them)."""
import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from ssmc_testing import compile_model, errors, run_onnxruntime
from test_runtime_dims import f32, model, weight

RNG = np.random.default_rng(11)

# (H, W) pairs covering 1..9, 16 and 31, square and not, and rows longer than a few vectors.
SIZES = [(1, 1), (2, 3), (3, 2), (4, 4), (5, 7), (6, 1), (7, 9), (8, 5), (9, 8), (1, 16), (16, 16), (31, 9), (9, 31), (3, 70)]


def fits(kernel, attrs, size):
    """Whether every window fits the padded input (else ONNX has no output there, and ssmc's static shapes
    refuse the size; onnxruntime's pools still return one window, as they divide truncating toward zero)."""
    if attrs.get("auto_pad", "NOTSET").startswith("SAME"):
        return True
    n = len(kernel)
    pads = attrs.get("pads", [0] * 2 * n)
    dilations = attrs.get("dilations", [1] * n)
    return all(size[i] + pads[i] + pads[i + n] >= (kernel[i] - 1) * dilations[i] + 1 for i in range(n))


def check(m, tmp_path, make_inputs, sizes, threads=0, rtol=1e-5, atol=1e-5, least=4, valid=lambda size: True):
    """Compiles `m` once and compares every output with onnxruntime at each `valid` size onnxruntime runs."""
    compiled = compile_model(m, tmp_path, threads=threads)
    ran = 0
    for size in filter(valid, sizes):
        inputs = make_inputs(*size)
        try:
            want = run_onnxruntime(m, tmp_path, *inputs)
        except Exception:  # onnxruntime rejects sizes with no window; ssmc's glue does not see those
            continue
        got = compiled.run(*inputs)
        for k, (g, w) in enumerate(zip(got, want)):
            assert g.shape == w.shape, f"sizes {size} output {k}: shape {g.shape}, onnxruntime {w.shape}"
            if np.issubdtype(w.dtype, np.integer):
                assert np.array_equal(g, w), f"sizes {size} output {k}: indices differ"
                continue
            max_abs, max_rel = errors(g, w)
            assert np.allclose(g, w, rtol=rtol, atol=atol), f"sizes {size} output {k}: max-abs {max_abs:.3g}, max-rel {max_rel:.3g}"
        ran += 1
    assert ran >= least, f"only {ran} sizes ran"


def image(channels, batch=None):
    return lambda hh, ww: [RNG.standard_normal((batch or 1 + (hh + ww) % 2, channels, hh, ww)).astype(np.float32)]


def conv_model(c, m, kernel, bias=True, batch="N", **attrs):
    group = attrs.get("group", 1)
    inits = [weight("w", m, c // group, *kernel, scale=0.3)] + ([weight("b", m)] if bias else [])
    node = h.make_node("Conv", ["x", "w"] + (["b"] if bias else []), ["y"], **attrs)
    spatial = ["H", "W", "D"][: len(kernel)] if len(kernel) < 3 else ["D", "H", "W"]
    return model([node], [f32("x", [batch, c] + spatial)], inits)


CONV_2D = {
    "3x3_pad1": (3, 8, (3, 3), dict(pads=[1, 1, 1, 1])),
    "3x3_valid_stride2": (4, 5, (3, 3), dict(strides=[2, 2])),
    "3x3_dilation2": (3, 4, (3, 3), dict(dilations=[2, 2], pads=[2, 2, 2, 2])),
    "groups2_asymmetric_pads": (4, 6, (3, 2), dict(group=2, pads=[1, 0, 0, 2])),
    "depthwise_3x3": (8, 8, (3, 3), dict(group=8, pads=[1, 1, 1, 1])),
    "depthwise_7x7": (6, 6, (7, 7), dict(group=6, pads=[3, 3, 3, 3])),
    "depthwise_multiplier2_stride2": (3, 6, (3, 3), dict(group=3, strides=[2, 2], pads=[1, 1, 1, 1])),
    "same_upper_stride2": (3, 5, (3, 3), dict(auto_pad="SAME_UPPER", strides=[2, 2])),
    "same_lower_stride2_even": (2, 4, (4, 4), dict(auto_pad="SAME_LOWER", strides=[2, 2])),
    # onnxruntime refuses SAME padding with dilations, so the dilated cases use explicit pads.
    "same_upper_stride3": (2, 3, (3, 2), dict(auto_pad="SAME_UPPER", strides=[3, 2])),
    "same_lower_stride1": (3, 4, (3, 3), dict(auto_pad="SAME_LOWER")),
    "valid_stride2": (3, 4, (2, 2), dict(auto_pad="VALID", strides=[2, 2])),
    "patch_embed_4x4": (3, 16, (4, 4), dict(strides=[4, 4])),
    "mixed_stride_dilation": (3, 5, (2, 3), dict(strides=[2, 1], dilations=[1, 2], pads=[0, 1, 2, 0])),
    "pointwise_no_bias": (8, 16, (1, 1), dict(bias=False)),
    "1x7_row": (4, 4, (1, 7), dict(group=4, pads=[0, 3, 0, 3])),
    "large_pads": (2, 3, (3, 3), dict(pads=[4, 2, 3, 5], strides=[2, 3])),
}


@pytest.mark.parametrize("name", sorted(CONV_2D))
def test_conv_2d(tmp_path, name):
    c, m, kernel, attrs = CONV_2D[name]
    attrs = dict(attrs)
    bias = attrs.pop("bias", True)
    check(conv_model(c, m, kernel, bias=bias, **attrs), tmp_path, image(c), SIZES, threads=2, valid=lambda s: fits(kernel, attrs, s))


def test_conv_static_batch_one_thread(tmp_path):
    c = 4
    check(conv_model(c, 6, (3, 3), batch=2, pads=[1, 1, 1, 1]), tmp_path, image(c, batch=2), SIZES, threads=1)


CONV_1D = {
    "k5_pad2": (4, 6, (5,), dict(pads=[2, 2])),
    "stride3_dilation2": (3, 4, (3,), dict(strides=[3], dilations=[2], pads=[1, 2])),
    "causal_depthwise": (8, 8, (4,), dict(group=8, pads=[3, 0])),
    "same_upper_stride2": (2, 3, (3,), dict(auto_pad="SAME_UPPER", strides=[2])),
}


@pytest.mark.parametrize("name", sorted(CONV_1D))
def test_conv_1d(tmp_path, name):
    c, m, kernel, attrs = CONV_1D[name]
    lengths = [(n,) for n in [1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 31, 100]]
    check(conv_model(c, m, kernel, **attrs), tmp_path, lambda n: [RNG.standard_normal((2, c, n)).astype(np.float32)], lengths)


def test_conv_3d(tmp_path):
    m = conv_model(2, 3, (2, 3, 2), strides=[1, 2, 1], pads=[1, 1, 0, 0, 1, 1])
    sizes = [(1, 2, 3), (2, 5, 4), (3, 3, 7), (4, 9, 2)]
    check(m, tmp_path, lambda d, hh, ww: [RNG.standard_normal((1, 2, d, hh, ww)).astype(np.float32)], sizes)


def test_pad_folded_into_conv(tmp_path):
    """A zero Pad before the Conv is folded into its pads at symbolic sizes, so the Pad needs no lowering."""
    pads = nh.from_array(np.array([0, 0, 2, 1, 0, 0, 1, 3], np.int64), "pads")
    nodes = [h.make_node("Pad", ["x", "pads"], ["p"]), h.make_node("Conv", ["p", "w", "b"], ["y"], group=4)]
    m = model(nodes, [f32("x", [1, 4, "H", "W"])], [pads, weight("w", 4, 1, 3, 5), weight("b", 4)])
    check(m, tmp_path, image(4, batch=1), SIZES)


POOLS = {
    "max_3x3_s2_p1": ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    "max_2x2_s2": ("MaxPool", dict(kernel_shape=[2, 2], strides=[2, 2])),
    "max_ceil": ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    "max_ceil_pads_dilated": ("MaxPool", dict(kernel_shape=[2, 3], strides=[3, 2], pads=[1, 0, 1, 2], dilations=[1, 2], ceil_mode=1)),
    "max_same_upper_s2": ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")),
    "avg_3x3_s1_p1_exclude": ("AveragePool", dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])),
    "avg_3x3_s2_p1_include": ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)),
    "avg_ceil_exclude": ("AveragePool", dict(kernel_shape=[2, 2], strides=[2, 2], pads=[0, 1, 1, 0], ceil_mode=1)),
    "avg_ceil_include": ("AveragePool", dict(kernel_shape=[3, 2], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=1)),
    "avg_same_lower_s2": ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_LOWER")),
    "avg_valid_4x4": ("AveragePool", dict(kernel_shape=[4, 4], strides=[4, 4])),
}


@pytest.mark.parametrize("name", sorted(POOLS))
def test_pool(tmp_path, name):
    op, attrs = POOLS[name]
    m = model([h.make_node(op, ["x"], ["y"], **attrs)], [f32("x", ["N", 3, "H", "W"])])
    check(m, tmp_path, image(3), SIZES, threads=2, valid=lambda s: fits(attrs["kernel_shape"], attrs, s))


@pytest.mark.parametrize("op,attrs", [
    ("AveragePool", dict(kernel_shape=[4], strides=[3], pads=[2, 1], count_include_pad=1, ceil_mode=1)),
    ("MaxPool", dict(kernel_shape=[3], strides=[1], pads=[1, 1], dilations=[2])),
])
def test_pool_1d(tmp_path, op, attrs):
    m = model([h.make_node(op, ["x"], ["y"], **attrs)], [f32("x", [2, 3, "L"])])
    lengths = [(n,) for n in [1, 2, 3, 5, 8, 16, 31, 100]]
    check(m, tmp_path, lambda n: [RNG.standard_normal((2, 3, n)).astype(np.float32)], lengths,
          valid=lambda s: fits(attrs["kernel_shape"], attrs, s))


def test_pool_3d(tmp_path):
    attrs = dict(kernel_shape=[2, 3, 2], strides=[1, 2, 2], pads=[0, 1, 1, 1, 1, 0])
    m = model([h.make_node("AveragePool", ["x"], ["y"], **attrs)], [f32("x", [1, 2, "D", "H", "W"])])
    sizes = [(2, 1, 1), (3, 4, 5), (2, 9, 33)]
    check(m, tmp_path, lambda d, hh, ww: [RNG.standard_normal((1, 2, d, hh, ww)).astype(np.float32)], sizes, least=3)


@pytest.mark.parametrize("storage_order", [0, 1])
def test_maxpool_indices(tmp_path, storage_order):
    node = h.make_node("MaxPool", ["x"], ["y", "i"], kernel_shape=[3, 2], strides=[2, 1], pads=[1, 0, 1, 1], storage_order=storage_order)
    outs = (h.make_tensor_value_info("y", T.FLOAT, None), h.make_tensor_value_info("i", T.INT64, None))
    m = model([node], [f32("x", ["N", 2, "H", "W"])])
    m.graph.ClearField("output")
    m.graph.output.extend(outs)
    # Distinct values, so the index of each maximum is unambiguous.
    def inputs(hh, ww):
        n = 1 + (hh % 2)
        return [RNG.permutation(n * 2 * hh * ww).reshape(n, 2, hh, ww).astype(np.float32)]
    check(m, tmp_path, inputs, SIZES)


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
def test_global_pool(tmp_path, op):
    m = model([h.make_node(op, ["x"], ["y"])], [f32("x", ["N", 5, "H", "W"])])
    check(m, tmp_path, image(5), SIZES + [(40, 41), (17, 1)], threads=2)


REDUCTIONS = ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum",
              "ReduceLogSumExp"]


@pytest.mark.parametrize("op", REDUCTIONS)
@pytest.mark.parametrize("axes,keepdims", [([2, 3], 1), ([-1], 0), ([1], 1), ([1, 3], 0), (None, 1), ([0, 2], 0)])
def test_reduction(tmp_path, op, axes, keepdims):
    inputs = ["x"] + (["axes"] if axes is not None else [])
    inits = [nh.from_array(np.array(axes, np.int64), "axes")] if axes is not None else []
    m = model([h.make_node(op, inputs, ["y"], keepdims=keepdims)], [f32("x", ["N", 3, "H", "W"])], inits)
    # Positive values near 1 keep products and logs well conditioned.
    def x(hh, ww):
        return [RNG.uniform(0.8, 1.2, (1 + hh % 2, 3, hh, ww)).astype(np.float32)]
    sizes = [(1, 1), (2, 3), (5, 7), (9, 1), (16, 16), (31, 9)]
    check(m, tmp_path, x, sizes, rtol=2e-5)


def test_reduction_over_tokens(tmp_path):
    """[B, T, 32] reduced over T (the innermost dim kept) and over the last dim, with the same T."""
    nodes = [h.make_node("ReduceMean", ["x", "a1"], ["y"], keepdims=0), h.make_node("ReduceMax", ["x", "a2"], ["z"], keepdims=1)]
    inits = [nh.from_array(np.array([1], np.int64), "a1"), nh.from_array(np.array([2], np.int64), "a2")]
    m = model(nodes, [f32("x", ["B", "T", 32])], inits, outputs=("y", "z"))
    check(m, tmp_path, lambda b, t: [RNG.standard_normal((b, t, 32)).astype(np.float32)], [(1, 1), (2, 5), (3, 64), (1, 300)])


GEMMS = {
    "plain": dict(),
    "transB_bias_row": dict(transB=1, c=(8,)),
    "alpha_beta_c_column": dict(alpha=0.5, beta=2.0, c=(1, 8)),
    "transA_c_scalar": dict(transA=1, beta=-1.0, c=()),
    "transA_transB": dict(transA=1, transB=1, alpha=1.5),
}


@pytest.mark.parametrize("name", sorted(GEMMS))
def test_gemm_with_runtime_rows(tmp_path, name):
    attrs = dict(GEMMS[name])
    c = attrs.pop("c", None)
    k, n = 16, 8
    a_dims = [k, "M"] if attrs.get("transA") else ["M", k]
    b = weight("b", *((n, k) if attrs.get("transB") else (k, n)))
    inits = [b] + ([weight("c", *c)] if c is not None else [])
    node = h.make_node("Gemm", ["a", "b"] + (["c"] if c is not None else []), ["y"], **attrs)
    m = model([node], [f32("a", a_dims)], inits)
    def inputs(rows):
        shape = (k, rows) if attrs.get("transA") else (rows, k)
        return [RNG.standard_normal(shape).astype(np.float32)]
    check(m, tmp_path, inputs, [(1,), (2,), (7,), (33,), (300,)], threads=2)


def test_gemm_c_with_runtime_rows(tmp_path):
    node = h.make_node("Gemm", ["a", "b", "c"], ["y"], beta=0.25)
    m = model([node], [f32("a", ["M", 12]), f32("c", ["M", 1])], [weight("b", 12, 5)])
    def inputs(rows):
        return [RNG.standard_normal((rows, 12)).astype(np.float32), RNG.standard_normal((rows, 1)).astype(np.float32)]
    check(m, tmp_path, inputs, [(1,), (3,), (17,)], least=3)


def test_small_cnn_runs_at_any_image_size(tmp_path):
    """Conv-BN-style bias, Relu, MaxPool, depthwise and pointwise convs, a residual Add, GlobalAveragePool,
    Flatten and a Gemm classifier over [N, 3, H, W]."""
    nodes = [
        h.make_node("Conv", ["x", "w1", "b1"], ["c1"], strides=[2, 2], pads=[1, 1, 1, 1]),
        h.make_node("Relu", ["c1"], ["r1"]),
        h.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
        h.make_node("Conv", ["p1", "w2", "b2"], ["c2"], group=8, pads=[1, 1, 1, 1]),
        h.make_node("Sigmoid", ["c2"], ["s2"]), h.make_node("Mul", ["c2", "s2"], ["a2"]),
        h.make_node("Conv", ["a2", "w3"], ["c3"]), h.make_node("Add", ["p1", "c3"], ["r3"]),
        h.make_node("GlobalAveragePool", ["r3"], ["g"]), h.make_node("Flatten", ["g"], ["f"]),
        h.make_node("Gemm", ["f", "wf", "bf"], ["y"], transB=1),
    ]
    inits = [weight("w1", 8, 3, 3, 3), weight("b1", 8), weight("w2", 8, 1, 3, 3), weight("b2", 8), weight("w3", 8, 8, 1, 1),
             weight("wf", 10, 8), weight("bf", 10)]
    m = model(nodes, [f32("x", ["N", 3, "H", "W"])], inits)
    check(m, tmp_path, image(3), SIZES + [(32, 32), (45, 23)], threads=2)


def test_conv_with_runtime_channels_is_refused_clearly(tmp_path):
    import subprocess
    from ssmc_testing import SSMC, save
    m = model([h.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], [f32("x", ["N", "C", "H", "W"]), f32("w", [4, "C", 3, 3])])
    path = save(m, tmp_path)
    result = subprocess.run([SSMC, "compile", path, "-o", str(tmp_path / "lib.so")], capture_output=True, text=True)
    assert result.returncode != 0 and "Conv: X's channels [C] must have static extents" in result.stderr, result.stderr
