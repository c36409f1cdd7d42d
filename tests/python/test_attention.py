"""Attention (opsets 23-25) and RotaryEmbedding (opset 23) compiled by ssmc, against numpy float64
references written from the ONNX spec, and against onnxruntime where it implements the case."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from tensor_ops_support import run_ssmc

rng = np.random.default_rng(23)
_ELEMENT = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE,
            np.dtype(np.bool_): TensorProto.BOOL, np.dtype(np.int64): TensorProto.INT64}


def model(op, inputs, attrs, outputs, opset):
    """One `op` node; `inputs` maps names to arrays (None: an absent optional input), `outputs` lists the
    node's output names ('' for an absent optional output)."""
    node = helper.make_node(op, [n if a is not None else "" for n, a in inputs.items()], outputs, **attrs)
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(n, _ELEMENT[a.dtype], a.shape) for n, a in inputs.items() if a is not None],
        [helper.make_tensor_value_info(n, _ELEMENT[next(iter(inputs.values())).dtype], None) for n in outputs if n])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 9
    return m


def run_ort(m, inputs):
    """onnxruntime's outputs, or None when it does not implement the node."""
    import onnxruntime as ort
    try:
        session = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        return session.run(None, {n: a for n, a in inputs.items() if a is not None})
    except Exception as e:  # noqa: BLE001 - only the reference's absence is tolerated
        if "NOT_IMPLEMENTED" in str(e) or "not implemented" in str(e).lower() or "opset" in str(e).lower():
            return None
        raise


def softmax_rows(x, allowed):
    """Softmax over the last axis; a row with no allowed key is zeros (the spec's fully-masked guard)."""
    m = np.max(np.where(allowed, x, -np.inf), axis=-1, keepdims=True)
    m = np.where(np.isneginf(m), 0, m)
    e = np.where(allowed, np.exp(x - m), 0)
    s = e.sum(axis=-1, keepdims=True)
    return np.where(allowed.any(axis=-1, keepdims=True), e / np.where(s == 0, 1, s), 0)


def attention_ref(q, k, v, mask=None, past_key=None, past_value=None, nonpad=None, scale=None, is_causal=0,
                  q_num_heads=None, kv_num_heads=None, softcap=0.0, mode=0, left=-1, right=-1):
    """float64 Attention from the spec: (Y, present_key, present_value, qk_matmul_output)."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    packed = q.ndim == 3
    if packed:
        b = q.shape[0]
        q = q.reshape(b, q.shape[1], q_num_heads, -1).transpose(0, 2, 1, 3)
        k = k.reshape(b, k.shape[1], kv_num_heads, -1).transpose(0, 2, 1, 3)
        v = v.reshape(b, v.shape[1], kv_num_heads, -1).transpose(0, 2, 1, 3)
    b, hq, sq, d = q.shape
    p = 0
    if past_key is not None:
        p = past_key.shape[2]
        k = np.concatenate([past_key.astype(np.float64), k], axis=2)
        v = np.concatenate([past_value.astype(np.float64), v], axis=2)
    present_k, present_v = k, v
    total = k.shape[2]
    group = hq // k.shape[1]
    kr, vr = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
    scale = 1 / np.sqrt(d) if scale is None else scale
    raw = q @ kr.transpose(0, 1, 3, 2) * scale
    capped = softcap * np.tanh(raw / softcap) if softcap > 0 else raw
    allowed = np.ones((b, hq, sq, total), bool)
    bias = np.zeros((b, hq, sq, total))
    if mask is not None:
        ml = mask.shape[-1]
        full = np.zeros(mask.shape[:-1] + (total,), mask.dtype)
        full[..., :ml] = mask
        inside = np.arange(total) < ml
        if mask.dtype == np.bool_:
            allowed &= full & inside
        else:
            bias = bias + np.where(inside, full, 0)
            allowed &= inside & ~np.isneginf(full)
    i = np.arange(sq)[:, None]
    j = np.arange(total)[None, :]
    offset = np.full((b, 1, 1, 1), p) if nonpad is None else (nonpad - sq).reshape(b, 1, 1, 1)
    position = i + offset
    if is_causal:
        allowed &= j <= position
    if left >= 0:
        allowed &= position - j <= left
    if right >= 0:
        allowed &= j - position <= right
    if nonpad is not None:
        allowed &= j < nonpad.reshape(b, 1, 1, 1)
    scores = np.where(allowed, capped + bias, -np.inf)
    probs = softmax_rows(scores, allowed)
    y = probs @ vr
    if packed:
        y = y.transpose(0, 2, 1, 3).reshape(b, sq, -1)
    return y, present_k, present_v, [raw, capped, scores, probs][mode]


def check(got, want, rtol=2e-5, atol=2e-6, what="output"):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{what}: {got.shape} vs {want.shape}"
    assert np.allclose(got, want, rtol=rtol, atol=atol), f"{what}: max-abs {np.abs(got - want).max():.3g}"


def run_attention(inputs, attrs, outputs, opset=23, ref_kwargs=None, dtype=np.float32, compare_ort=True):
    m = model("Attention", inputs, attrs, outputs, opset)
    got = run_ssmc(m, {n: a for n, a in inputs.items() if a is not None})
    names = ["Q", "K", "V", "attn_mask", "past_key", "past_value", "nonpad_kv_seqlen"]
    args = [inputs.get(n) for n in names]
    ref = attention_ref(*args, **(ref_kwargs or {}))
    wanted = [ref[i] for i, n in enumerate(outputs) if n]
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else {}
    for g, w, name in zip(got, wanted, [n for n in outputs if n]):
        check(g, w, what=name, **tol)
    if compare_ort:
        ort_out = run_ort(m, inputs)
        if ort_out is not None:
            for g, w, name in zip(got, ort_out, [n for n in outputs if n]):
                check(g, w, rtol=1e-4, atol=1e-5, what=f"{name} vs onnxruntime")
    return got


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def test_gqa_4d_float_mask_scale():
    q, k, v = f32(2, 6, 5, 8), f32(2, 2, 7, 8), f32(2, 2, 7, 4)
    mask = f32(5, 7)
    run_attention({"Q": q, "K": k, "V": v, "attn_mask": mask}, {"scale": 0.3}, ["Y"],
                  ref_kwargs={"scale": np.float64(np.float32(0.3))})


def test_3d_gqa_value_head_size():
    q, k, v = f32(2, 5, 4 * 6), f32(2, 9, 2 * 6), f32(2, 9, 2 * 3)
    attrs = {"q_num_heads": 4, "kv_num_heads": 2}
    run_attention({"Q": q, "K": k, "V": v}, attrs, ["Y"], ref_kwargs={"q_num_heads": 4, "kv_num_heads": 2})


def test_causal_with_past_bool_mask_presents():
    q, k, v = f32(2, 4, 3, 8), f32(2, 2, 3, 8), f32(2, 2, 3, 5)
    pk, pv = f32(2, 2, 5, 8), f32(2, 2, 5, 5)
    mask = rng.random((2, 1, 3, 8)) > 0.3
    inputs = {"Q": q, "K": k, "V": v, "attn_mask": mask, "past_key": pk, "past_value": pv}
    run_attention(inputs, {"is_causal": 1}, ["Y", "present_key", "present_value"], ref_kwargs={"is_causal": 1})


def test_3d_causal_with_past_only_y():
    # The cache is concatenated into the workspace when present_* are not asked for.
    q, k, v = f32(1, 2, 3 * 4), f32(1, 2, 3 * 4), f32(1, 2, 3 * 4)
    pk, pv = f32(1, 3, 6, 4), f32(1, 3, 6, 4)
    inputs = {"Q": q, "K": k, "V": v, "attn_mask": None, "past_key": pk, "past_value": pv}
    attrs = {"is_causal": 1, "q_num_heads": 3, "kv_num_heads": 3}
    # onnxruntime requires present_key with past_key.
    run_attention(inputs, attrs, ["Y"], ref_kwargs={"is_causal": 1, "q_num_heads": 3, "kv_num_heads": 3}, compare_ort=False)


@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_softcap_and_qk_outputs(mode):
    q, k, v = f32(1, 2, 4, 8) * 3, f32(1, 2, 6, 8) * 3, f32(1, 2, 6, 8)
    mask = f32(2, 4, 6)  # (heads, q, kv): broadcast over batch
    mask[0, 1, 2] = -np.inf
    inputs = {"Q": q, "K": k, "V": v, "attn_mask": mask}
    attrs = {"softcap": 1.5, "qk_matmul_output_mode": mode}
    # Mode 0 is the raw product per the spec; onnx's reference evaluator returns it soft-capped, onnxruntime
    # raw, as here.
    run_attention(inputs, attrs, ["Y", "", "", "qk"], ref_kwargs={"softcap": 1.5, "mode": mode})


@pytest.mark.parametrize("boolean", [True, False])
def test_short_mask_is_padded_and_fully_masked_row_is_zero(boolean):
    q, k, v = f32(2, 2, 3, 4), f32(2, 2, 6, 4), f32(2, 2, 6, 4)
    if boolean:
        mask = rng.random((3, 4)) > 0.2
        mask[1] = False
    else:
        mask = f32(3, 4)
        mask[1] = -np.inf
    got = run_attention({"Q": q, "K": k, "V": v, "attn_mask": mask}, {}, ["Y"], compare_ort=False)
    assert np.all(got[0][:, :, 1] == 0)


def test_nonpad_kv_seqlen_causal():
    q, k, v = f32(3, 4, 2, 8), f32(3, 2, 6, 8), f32(3, 2, 6, 8)
    nonpad = np.array([6, 3, 1], np.int64)  # the last gives a negative offset: a fully masked first row
    mask = rng.random((3, 1, 2, 6)) > 0.2
    inputs = {"Q": q, "K": k, "V": v, "attn_mask": mask, "past_key": None, "past_value": None, "nonpad_kv_seqlen": nonpad}
    run_attention(inputs, {"is_causal": 1}, ["Y"], opset=24, ref_kwargs={"is_causal": 1})


@pytest.mark.parametrize("left,right,causal", [(2, -1, 1), (1, 2, 0), (0, 0, 0)])
def test_sliding_window(left, right, causal):
    q, k, v = f32(2, 2, 5, 4), f32(2, 2, 5, 4), f32(2, 2, 5, 4)
    pk, pv = f32(2, 2, 3, 4), f32(2, 2, 3, 4)
    inputs = {"Q": q, "K": k, "V": v, "attn_mask": None, "past_key": pk, "past_value": pv}
    attrs = {"is_causal": causal, "left_window_size": left, "right_window_size": right}
    # onnxruntime 1.31 does not know opset 25's window attributes.
    run_attention(inputs, attrs, ["Y"], opset=25, ref_kwargs={"is_causal": causal, "left": left, "right": right},
                  compare_ort=False)


def test_double_precision():
    q, k, v = (rng.standard_normal(s) for s in [(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)])
    mask = rng.standard_normal((4, 6))
    run_attention({"Q": q, "K": k, "V": v, "attn_mask": mask}, {"is_causal": 1, "softcap": 2.0}, ["Y"],
                  ref_kwargs={"is_causal": 1, "softcap": 2.0}, dtype=np.float64,
                  compare_ort=False)  # onnxruntime 1.31's double Attention fails on a float constant


def test_softmax_precision_double():
    q, k, v = f32(1, 2, 3, 4), f32(1, 2, 5, 4), f32(1, 2, 5, 4)
    run_attention({"Q": q, "K": k, "V": v}, {"softmax_precision": 11, "qk_matmul_output_mode": 3},
                  ["Y", "", "", "qk"], ref_kwargs={"mode": 3})


def test_larger_problem():
    q, k, v = f32(2, 8, 48, 32), f32(2, 2, 80, 32), f32(2, 2, 80, 32)
    pk, pv = f32(2, 2, 16, 32), f32(2, 2, 16, 32)
    inputs = {"Q": q, "K": k, "V": v, "attn_mask": None, "past_key": pk, "past_value": pv}
    run_attention(inputs, {"is_causal": 1}, ["Y", "present_key", "present_value", "qk"], ref_kwargs={"is_causal": 1})


def test_rejects_indivisible_heads():
    q, k, v = f32(1, 3, 2, 4), f32(1, 2, 2, 4), f32(1, 2, 2, 4)
    with pytest.raises(AssertionError, match="not a multiple"):
        run_ssmc(model("Attention", {"Q": q, "K": k, "V": v}, {}, ["Y"], 23), {"Q": q, "K": k, "V": v})


def rotary_ref(x, cos, sin, position_ids=None, interleaved=0, rotary_dim=0, num_heads=0):
    """float64 RotaryEmbedding from the spec."""
    x = np.asarray(x, np.float64)
    shape = x.shape
    xs = x.transpose(0, 2, 1, 3) if x.ndim == 4 else x.reshape(shape[0], shape[1], num_heads, -1)
    size = xs.shape[-1]
    r = rotary_dim or size
    if position_ids is not None:
        cos, sin = cos[position_ids], sin[position_ids]
    cos, sin = cos[:, :, None, :].astype(np.float64), sin[:, :, None, :].astype(np.float64)
    rot = xs[..., :r]
    x1, x2 = (rot[..., 0::2], rot[..., 1::2]) if interleaved else (rot[..., : r // 2], rot[..., r // 2:])
    real, imag = cos * x1 - sin * x2, sin * x1 + cos * x2
    out = xs.copy()
    if interleaved:
        out[..., 0:r:2], out[..., 1:r:2] = real, imag
    else:
        out[..., : r // 2], out[..., r // 2: r] = real, imag
    return out.transpose(0, 2, 1, 3) if len(shape) == 4 else out.reshape(shape)


ROTARY_CASES = [
    # (input shape, num_heads, interleaved, rotary dim, position ids)
    ((2, 3, 5, 8), 0, 0, 0, True),
    ((2, 3, 5, 8), 0, 1, 0, True),
    ((2, 3, 5, 12), 0, 0, 6, True),
    ((2, 3, 5, 12), 0, 1, 4, True),
    ((2, 5, 4 * 6), 4, 0, 0, True),
    ((2, 5, 4 * 6), 4, 1, 2, False),
    ((1, 2, 7, 10), 0, 0, 8, False),
]


@pytest.mark.parametrize("shape,num_heads,interleaved,rotary_dim,with_positions", ROTARY_CASES)
def test_rotary_embedding(shape, num_heads, interleaved, rotary_dim, with_positions):
    x = f32(*shape)
    size = shape[-1] // num_heads if num_heads else shape[-1]
    half = (rotary_dim or size) // 2
    batch, sequence = shape[0], shape[1] if len(shape) == 3 else shape[2]
    if with_positions:
        cos, sin = f32(40, half), f32(40, half)
        positions = rng.integers(0, 40, (batch, sequence)).astype(np.int64)
    else:
        cos, sin = f32(batch, sequence, half), f32(batch, sequence, half)
        positions = None
    inputs = {"X": x, "cos_cache": cos, "sin_cache": sin, "position_ids": positions}
    attrs = {"interleaved": interleaved, "rotary_embedding_dim": rotary_dim}
    if num_heads:
        attrs["num_heads"] = num_heads
    m = model("RotaryEmbedding", inputs, attrs, ["Y"], 23)
    got = run_ssmc(m, {n: a for n, a in inputs.items() if a is not None})[0]
    check(got, rotary_ref(x, cos, sin, positions, interleaved, rotary_dim, num_heads))
    ort_out = run_ort(m, inputs)
    if ort_out is not None:
        check(got, ort_out[0], what="vs onnxruntime")


def test_run_time_batch():
    # A symbolic batch: compiled once for one sample, run per sample; the 2-D mask is shared.
    mask = f32(3, 5)
    node = helper.make_node("Attention", ["Q", "K", "V", "mask"], ["Y"], is_causal=1, q_num_heads=4, kv_num_heads=2)
    rope = helper.make_node("RotaryEmbedding", ["Y", "cos", "sin", "pos"], ["Z"], num_heads=4)
    graph = helper.make_graph(
        [node, rope], "g",
        [helper.make_tensor_value_info("Q", TensorProto.FLOAT, ["N", 3, 4 * 6]),
         helper.make_tensor_value_info("K", TensorProto.FLOAT, ["N", 5, 2 * 6]),
         helper.make_tensor_value_info("V", TensorProto.FLOAT, ["N", 5, 2 * 6]),
         helper.make_tensor_value_info("pos", TensorProto.INT64, ["N", 3])],
        [helper.make_tensor_value_info("Z", TensorProto.FLOAT, None)],
        [onnx.numpy_helper.from_array(mask, "mask"), onnx.numpy_helper.from_array(f32(9, 3), "cos"),
         onnx.numpy_helper.from_array(f32(9, 3), "sin")])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
    m.ir_version = 9
    from tensor_ops_support import compile_model
    compiled = compile_model(m)
    cos, sin = (onnx.numpy_helper.to_array(t) for t in graph.initializer[1:])
    for n in (1, 3):
        q, k, v = f32(n, 3, 24), f32(n, 5, 12), f32(n, 5, 12)
        pos = rng.integers(0, 9, (n, 3)).astype(np.int64)
        got = compiled.run(q, k, v, pos)[0]
        y = attention_ref(q, k, v, mask, is_causal=1, q_num_heads=4, kv_num_heads=2)[0]
        check(got, rotary_ref(y, cos, sin, pos, num_heads=4), what=f"batch {n}")
