"""Normalizations compiled by ssmc, against numpy float64 references of the ONNX formulas."""
import numpy as np
import pytest

from tensor_ops_support import check, make_model, run_ssmc

rng = np.random.default_rng(5)


def f32(a):
    return np.asarray(a, np.float32)


def layer_norm(x, scale, bias, axis, eps):
    axes = tuple(range(axis % x.ndim, x.ndim))
    x = x.astype(np.float64)
    mean = x.mean(axes, keepdims=True)
    inv = 1 / np.sqrt(((x - mean) ** 2).mean(axes, keepdims=True) + eps)
    y = (x - mean) * inv * scale + (0 if bias is None else bias)
    return y, mean, inv


@pytest.mark.parametrize("shape,axis", [((4, 37), -1), ((2, 3, 768), -1), ((2, 3, 4, 5), 1), ((3, 5), 0), ((130, 300), -1)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_layer_norm(shape, axis, with_bias):
    x = f32(rng.standard_normal(shape) * 3 + 1)
    scale = f32(rng.standard_normal(shape[axis:]))
    bias = f32(rng.standard_normal(shape[axis:])) if with_bias else None
    model = make_model("LayerNormalization", {"x": x}, {"scale": scale, "bias": bias},
                       attrs={"axis": axis, "epsilon": 1e-5}, outputs=3, opset=17)
    y, mean, inv = layer_norm(x, scale, bias, axis, 1e-5)
    check(model, {"x": x}, [f32(y), f32(mean), f32(inv)], rtol=1e-4, atol=1e-5)


def test_layer_norm_broadcast_scale_and_large_mean():
    # Scale/B of shape (1, 5) broadcast over normalized dims (4, 5); a large mean tests the two-pass variance.
    x = f32(rng.standard_normal((6, 4, 5)) * 0.01 + 1000)
    scale, bias = f32(rng.standard_normal((1, 5))), f32(rng.standard_normal((5,)))
    model = make_model("LayerNormalization", {"x": x}, {"scale": scale, "bias": bias}, attrs={"axis": 1}, opset=17)
    y, _, _ = layer_norm(x, scale, bias, 1, 1e-5)
    check(model, {"x": x}, [f32(y)], rtol=1e-4, atol=2e-4)


def test_layer_norm_two_threads():
    x = f32(rng.standard_normal((512, 384)))
    scale, bias = f32(rng.standard_normal(384)), f32(rng.standard_normal(384))
    model = make_model("LayerNormalization", {"x": x}, {"scale": scale, "bias": bias}, opset=17)
    got = run_ssmc(model, {"x": x}, threads=2)[0]
    np.testing.assert_allclose(got, layer_norm(x, scale, bias, -1, 1e-5)[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape,axis", [((4, 37), -1), ((2, 3, 4, 5), 2), ((3, 5), 0)])
def test_rms_norm(shape, axis):
    x = f32(rng.standard_normal(shape))
    scale = f32(rng.standard_normal(shape[axis:]))
    model = make_model("RMSNormalization", {"x": x}, {"scale": scale}, attrs={"axis": axis, "epsilon": 1e-6}, opset=23)
    axes = tuple(range(axis % x.ndim, x.ndim))
    x64 = x.astype(np.float64)
    want = x64 / np.sqrt((x64 ** 2).mean(axes, keepdims=True) + 1e-6) * scale
    check(model, {"x": x}, [f32(want)], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 17), (2, 4, 5, 6)])
def test_batch_norm(shape):
    c = shape[1]
    x = f32(rng.standard_normal(shape))
    scale, bias, mean = f32(rng.standard_normal(c)), f32(rng.standard_normal(c)), f32(rng.standard_normal(c))
    var = f32(rng.random(c) + 0.5)
    model = make_model("BatchNormalization", {"x": x}, {"s": scale, "b": bias, "m": mean, "v": var},
                       attrs={"epsilon": 1e-3})
    b = (slice(None),) + (None,) * (x.ndim - 2)
    want = (x - mean[b]) / np.sqrt(var[b].astype(np.float64) + 1e-3) * scale[b] + bias[b]
    check(model, {"x": x}, [f32(want)], rtol=1e-5, atol=1e-5)


def group_norm(x, groups, scale, bias, eps):
    n, c = x.shape[:2]
    g = x.astype(np.float64).reshape(n, groups, -1)
    g = (g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + eps)
    b = (slice(None),) + (None,) * (x.ndim - 2)
    return g.reshape(x.shape) * scale[b] + bias[b]


@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 4, 6, 7), (1, 3, 1)])
def test_instance_norm(shape):
    c = shape[1]
    x = f32(rng.standard_normal(shape) * 2 + 3)
    scale, bias = f32(rng.standard_normal(c)), f32(rng.standard_normal(c))
    model = make_model("InstanceNormalization", {"x": x}, {"s": scale, "b": bias}, attrs={"epsilon": 1e-5})
    check(model, {"x": x}, [f32(group_norm(x, c, scale, bias, 1e-5))], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape,groups", [((2, 6, 5), 3), ((2, 8, 4, 4), 2), ((3, 4, 9), 4), ((1, 6, 2), 1)])
def test_group_norm(shape, groups):
    c = shape[1]
    x = f32(rng.standard_normal(shape))
    scale, bias = f32(rng.standard_normal(c)), f32(rng.standard_normal(c))
    model = make_model("GroupNormalization", {"x": x}, {"s": scale, "b": bias},
                       attrs={"epsilon": 1e-5, "num_groups": groups}, opset=21)
    check(model, {"x": x}, [f32(group_norm(x, groups, scale, bias, 1e-5))], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_lp_norm(p, axis):
    x = f32(rng.standard_normal((4, 5, 37)))
    x[0, 0, :] = 0  # zero rows along the last axis normalize to 0
    model = make_model("LpNormalization", {"x": x}, attrs={"axis": axis, "p": p})
    x64 = x.astype(np.float64)
    norm = np.abs(x64).sum(axis, keepdims=True) if p == 1 else np.sqrt((x64 ** 2).sum(axis, keepdims=True))
    want = np.where(norm == 0, 0, x64 / np.where(norm == 0, 1, norm))
    check(model, {"x": x}, [f32(want)], rtol=1e-5, atol=1e-6)
