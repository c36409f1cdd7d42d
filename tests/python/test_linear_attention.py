"""LinearAttention (opset 27) compiled by ssmc, against a numpy float64 reference of the recurrences in the
ONNX spec, and the raising of Mamba-shaped LinearAttention nodes to ssmc.SelectiveScan."""
import subprocess

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper as oh, numpy_helper

from tensor_ops_support import SSMC, check, make_model, run_ssmc

rng = np.random.default_rng(270)


def f32(a):
    return np.asarray(a, np.float32)


def linear_attention(q, k, v, past, decay, beta, hq, hkv, rule, scale=0.0):
    """float64 reference: per token decay, (delta) update, then o = scale q^T S with GQA head sharing."""
    b, t, _ = q.shape
    dk, dv = q.shape[2] // hq, v.shape[2] // hkv
    q4 = q.reshape(b, t, hq, dk).astype(np.float64)
    k4 = k.reshape(b, t, hkv, dk).astype(np.float64)
    v4 = v.reshape(b, t, hkv, dv).astype(np.float64)
    s = np.zeros((b, hkv, dk, dv)) if past is None else past.astype(np.float64).copy()
    scale = 1 / np.sqrt(dk) if scale == 0 else scale
    out = np.zeros((b, t, hq, dv))
    for i in range(t):
        if decay is not None:
            g = decay[:, i].astype(np.float64)
            g = g.reshape(b, hkv, dk if g.shape[-1] == hkv * dk else 1)
            s = s * np.exp(g)[..., None]
        vt = v4[:, i]
        if beta is not None:
            bt = beta[:, i].astype(np.float64).reshape(b, -1, 1)
            vt = bt * (vt - np.einsum("bhdm,bhd->bhm", s, k4[:, i]))
        s = s + k4[:, i][..., :, None] * vt[..., None, :]
        read = np.repeat(s, hq // hkv, axis=1)
        out[:, i] = scale * np.einsum("bhd,bhdm->bhm", q4[:, i], read)
    return out.reshape(b, t, hq * dv), s


CASES = [
    # (rule, batch, T, hq, hkv, dk, dv, decay per key dim, beta per head, past, scale)
    ("linear", 2, 7, 2, 2, 4, 3, None, None, False, 0.0),
    ("linear", 1, 1, 4, 1, 8, 8, None, None, True, 0.5),
    ("gated", 2, 9, 4, 2, 5, 3, True, None, False, 0.0),
    ("gated", 1, 6, 3, 3, 4, 2, False, None, True, 1.0),
    ("delta", 2, 5, 2, 2, 4, 4, None, True, False, 0.0),
    ("gated_delta", 1, 8, 6, 2, 3, 5, False, False, True, 0.0),
    ("gated_delta", 2, 4, 2, 1, 4, 2, True, True, False, 0.25),
]


@pytest.mark.parametrize("rule,batch,t,hq,hkv,dk,dv,per_key,beta_head,with_past,scale", CASES)
def test_linear_attention(rule, batch, t, hq, hkv, dk, dv, per_key, beta_head, with_past, scale):
    q = f32(rng.standard_normal((batch, t, hq * dk)))
    k = f32(rng.standard_normal((batch, t, hkv * dk)) / np.sqrt(dk))
    v = f32(rng.standard_normal((batch, t, hkv * dv)))
    inputs = {"q": q, "k": k, "v": v}
    order = ["q", "k", "v"]
    past = decay = beta = None
    if with_past:
        past = inputs["past"] = f32(rng.standard_normal((batch, hkv, dk, dv)))
    order.append("past" if with_past else "none_past")
    if per_key is not None:
        decay = inputs["g"] = f32(-rng.uniform(0.01, 1.0, (batch, t, hkv * dk if per_key else hkv)))
    order.append("g" if per_key is not None else "none_g")
    if beta_head is not None:
        beta = inputs["beta"] = f32(rng.uniform(0.1, 0.9, (batch, t, hkv if beta_head else 1)))
        order.append("beta")
    constants = {n: None for n in order if n.startswith("none_")}
    model = make_model("LinearAttention", inputs, constants, outputs=2, opset=27, order=order,
                       attrs={"q_num_heads": hq, "kv_num_heads": hkv, "update_rule": rule, "scale": scale})
    y, state = linear_attention(q, k, v, past, decay, beta, hq, hkv, rule, scale)
    check(model, inputs, [f32(y), f32(state)], rtol=1e-4, atol=1e-5)
