"""Depthwise Convs with long 1-D kernels (S4ND's separable (k, 1) and (1, k) layers) compiled by ssmc vs
onnxruntime and numpy float64 (run with SSMC=path/to/ssmc).

S4ND pads (k - 1) // 2 before and k // 2 after along the kernel's axis, so k may exceed the input size.
Widths are odd and not multiples of the vector width so that every block and tail shape is hit.
"""
import numpy as np
import pytest

from linconv_helpers import check

rng = np.random.default_rng(23)


def rand(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def depthwise_ref(x, w, b, pads, strides=(1, 1)):
    """float64 depthwise 2-D conv: group = channels, w of shape (channels * multiplier, 1, kh, kw)."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    n, c, _, _ = x.shape
    m, _, kh, kw = w.shape
    xp = np.pad(x, [(0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])])
    oh = (xp.shape[2] - kh) // strides[0] + 1
    ow = (xp.shape[3] - kw) // strides[1] + 1
    xs = np.repeat(xp, m // c, axis=1)  # output channel o reads input channel o // multiplier
    y = np.zeros((n, m, oh, ow))
    for i in range(kh):
        for j in range(kw):
            window = xs[:, :, i:i + (oh - 1) * strides[0] + 1:strides[0], j:j + (ow - 1) * strides[1] + 1:strides[1]]
            y += window * w[None, :, 0, i, j, None, None]
    if b is not None:
        y += b.astype(np.float64)[None, :, None, None]
    return y


def run_case(x_shape, multiplier, kernel, strides=(1, 1), bias=True, compile_args=()):
    n, c, h, wd = x_shape
    kh, kw = kernel
    pads = [(kh - 1) // 2, (kw - 1) // 2, kh // 2, kw // 2]
    x, w = rand(*x_shape), rand(c * multiplier, 1, kh, kw)
    b = rand(c * multiplier) if bias else None
    attrs = {"group": c, "pads": pads, "kernel_shape": [kh, kw], "strides": list(strides)}
    check("Conv", [x, w] + ([b] if bias else []), attrs, constants=(1, 2), reference=depthwise_ref(x, w, b, pads, strides),
          rel=1e-5, ort_rel=1e-5, label=f"x{x_shape} k{kernel} x{multiplier} strides {strides} {compile_args}",
          compile_args=compile_args)


ALONG_W = [  # (N, C, H, W), kernel width
    ((2, 3, 5, 37), 1), ((2, 3, 4, 37), 2), ((2, 3, 5, 17), 3), ((2, 2, 3, 29), 15), ((2, 2, 3, 33), 16),
    ((2, 2, 3, 45), 17), ((2, 3, 4, 56), 31), ((2, 2, 5, 37), 32), ((2, 2, 3, 129), 33), ((2, 2, 3, 37), 64),
    ((2, 2, 2, 5), 64), ((2, 2, 3, 1), 7), ((2, 2, 3, 150), 48), ((2, 1, 2, 200), 63),
    # Several strips of rows (full ones and a ragged one) when transposed along W.
    ((1, 2, 70, 37), 32), ((1, 1, 131, 20), 9),
]


@pytest.mark.parametrize("k", [1, 33])
def test_long_kernel_along_w_wide_plane(k):
    # Too wide for the transposed strip buffers: the row kernel with lane shifts handles it.
    run_case((1, 1, 19, 1500), 1, (1, k))


@pytest.mark.parametrize("x_shape,k", ALONG_W)
@pytest.mark.parametrize("multiplier", [1, 32])
def test_long_kernel_along_w(x_shape, k, multiplier):
    run_case(x_shape, multiplier, (1, k), bias=multiplier == 1)


@pytest.mark.parametrize("x_shape,k", [((n, c, w, h), k) for (n, c, h, w), k in ALONG_W])
@pytest.mark.parametrize("multiplier", [1, 32])
def test_long_kernel_along_h(x_shape, k, multiplier):
    run_case(x_shape, multiplier, (k, 1), bias=multiplier == 32)


@pytest.mark.parametrize("kernel", [(9, 1), (1, 9), (40, 1), (1, 40)])
def test_stride_two_along_h(kernel):
    # Not a row-independent conv: the general depthwise kernel (padded plane) handles it.
    run_case((2, 3, 23, 37), 1, kernel, strides=(2, 1))


@pytest.mark.parametrize("k,length", [(1, 19), (40, 33), (64, 200), (17, 5)])
def test_long_kernel_1d(k, length):
    x, w, b = rand(2, 4, length), rand(4, 1, k), rand(4)
    pads = [(k - 1) // 2, k // 2]
    ref = depthwise_ref(x[:, :, None, :], w[:, :, None, :], b, [0, pads[0], 0, pads[1]])[:, :, 0, :]
    check("Conv", [x, w, b], {"group": 4, "pads": pads}, constants=(1, 2), reference=ref, rel=1e-5, ort_rel=1e-5,
          label=f"1-D length {length} k {k}")


@pytest.mark.parametrize("k", [32, 5])
def test_long_kernel_along_w_large_input(k):
    # Over 2 MB of input: the strip kernel prefetches the next strip's rows (clamped to the plane).
    run_case((1, 24, 150, 150), 1, (1, k))


@pytest.mark.parametrize("cpu", ["x86-64-v3", "x86-64"])
@pytest.mark.parametrize("x_shape,multiplier,kernel", [
    ((2, 2, 21, 37), 1, (1, 32)), ((2, 2, 37, 21), 1, (32, 1)), ((1, 1, 9, 19), 32, (1, 17)), ((1, 1, 19, 9), 32, (17, 1)),
])
def test_narrower_vectors(cpu, x_shape, multiplier, kernel):
    # 8-lane (AVX2) and 4-lane (SSE) code: other block shapes and transpose tiles.
    run_case(x_shape, multiplier, kernel, compile_args=("--target-cpu", cpu))


@pytest.mark.parametrize("cpu", ["x86-64-v3", "x86-64"])
def test_narrower_vectors_1d(cpu):
    x, w, b = rand(2, 3, 45), rand(3, 1, 20), rand(3)
    ref = depthwise_ref(x[:, :, None, :], w[:, :, None, :], b, [0, 9, 0, 10])[:, :, 0, :]
    check("Conv", [x, w, b], {"group": 3, "pads": [9, 10]}, constants=(1, 2), reference=ref, rel=1e-5, ort_rel=1e-5,
          label=f"1-D {cpu}", compile_args=("--target-cpu", cpu))
