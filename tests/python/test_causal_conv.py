"""CausalConvWithState (opset 27) compiled by ssmc, against a numpy float64 reference of the ONNX formula:
padded = concat(past_state or zeros, input) along L; y_t = bias + sum_j w_j padded_{t+j}; optional SiLU;
present_state = the last k - 1 values of padded."""
import numpy as np
import pytest

from tensor_ops_support import check, make_model

rng = np.random.default_rng(27)


def f32(a):
    return np.asarray(a, np.float32)


def causal_conv(x, w, bias, past, activation):
    b, c, length = x.shape
    k = w.shape[2]
    pad = np.zeros((b, c, k - 1)) if past is None else past.astype(np.float64)
    padded = np.concatenate([pad, x.astype(np.float64)], axis=2)
    y = np.zeros((b, c, length))
    for j in range(k):
        y += w[None, :, 0, j, None].astype(np.float64) * padded[:, :, j:j + length]
    if bias is not None:
        y += bias[None, :, None]
    if activation in ("silu", "swish"):
        y = y / (1 + np.exp(-y))
    return y, padded[:, :, padded.shape[2] - (k - 1):]


@pytest.mark.parametrize("shape,k", [((1, 8, 20), 4), ((2, 5, 3), 4), ((2, 33, 64), 3), ((1, 4, 1), 4), ((3, 6, 9), 1),
                                     ((1, 16, 300), 4)])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("with_past", [True, False])
@pytest.mark.parametrize("activation", ["none", "silu", "swish"])
def test_causal_conv(shape, k, with_bias, with_past, activation):
    b, c, _ = shape
    x = f32(rng.standard_normal(shape))
    w = f32(rng.standard_normal((c, 1, k)))
    bias = f32(rng.standard_normal(c)) if with_bias else None
    past = f32(rng.standard_normal((b, c, k - 1))) if with_past else None
    inputs = {"x": x} if past is None else {"x": x, "past": past}
    model = make_model("CausalConvWithState", inputs, {"w": w, "bias": bias}, attrs={"activation": activation},
                       outputs=2, opset=27, order=["x", "w", "bias"] + (["past"] if with_past else []))
    y, state = causal_conv(x, w, bias, past, activation)
    check(model, inputs, [f32(y), f32(state)], rtol=1e-5, atol=1e-5)


def test_causal_conv_default_activation_and_large_rows():
    # No activation attribute (default 'none'); enough rows for the parallel path.
    x = f32(rng.standard_normal((2, 256, 200)))
    w = f32(rng.standard_normal((256, 1, 4)))
    model = make_model("CausalConvWithState", {"x": x}, {"w": w}, outputs=2, opset=27)
    y, state = causal_conv(x, w, None, None, "none")
    check(model, {"x": x}, [f32(y), f32(state)], rtol=1e-5, atol=1e-5)
