"""LinearAttention (opset 27) compiled by ssmc, against a numpy float64 reference of the recurrences in the
ONNX spec, and the raising of Mamba-shaped LinearAttention nodes to ssmc.SelectiveScan."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper as oh, numpy_helper

from ssmc_testing import ir_after_pipeline
from tensor_ops_support import check, make_model, run_ssmc

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


# ---- Raising: a LinearAttention that is Mamba-1's scan becomes ssmc.SelectiveScan --------------------------

def selective_scan_ref(u, delta, a, b, c):
    """float64 Mamba-1 scan: u, delta (B, D, L); a (D, N); b, c (B, G, N, L)."""
    u, delta, a, b, c = (x.astype(np.float64) for x in (u, delta, a, b, c))
    batch, d, length = u.shape
    groups = b.shape[1]
    h = np.zeros((batch, d, a.shape[1]))
    y = np.zeros((batch, d, length))
    g = np.arange(d) // (d // groups)
    for i in range(length):
        h = np.exp(delta[:, :, i, None] * a) * h + (delta[:, :, i] * u[:, :, i])[..., None] * b[..., i][:, g]
        y[:, :, i] = (h * c[..., i][:, g]).sum(-1)
    return y


def mamba_linear_attention(batch, length, d, n, groups, scale=1.0, split="kv", per_head_decay=False, past=False,
                           use_state=False):
    """A LinearAttention graph built the way a Mamba-to-LinearAttention export does: heads = channels, d_k = N,
    d_v = 1, decay = dt*A unpacked to (B, T, D*N), key/value carrying B and dt*u, query carrying C."""
    f = TensorProto.FLOAT
    nodes, inits = [], []

    def const(name, values):
        inits.append(numpy_helper.from_array(np.asarray(values, np.int64), name))
        return name

    a = f32(-np.exp(rng.standard_normal((d, 1 if per_head_decay else n)) * 0.5))
    inits.append(numpy_helper.from_array(a, "A"))
    # dt (B, L, D) -> (B, L, D, 1) * A (D, N) -> (B, L, D*N)
    nodes += [oh.make_node("Unsqueeze", ["dt", const("ax_m1", [-1])], ["dt4"]),
              oh.make_node("Mul", ["dt4", "A"], ["dtA"]),
              oh.make_node("Reshape", ["dtA", const("packed_decay", [batch, length, -1])], ["decay"])]
    # B, C (B, L, G, N): channel d uses group d // (D/G): (B, L, G, 1, N) expanded to (B, L, G, D/G, N), packed.
    for name in ("Bm", "Cm"):
        nodes += [oh.make_node("Unsqueeze", [name, const("ax3", [3])], [name + "5"]),
                  oh.make_node("Expand", [name + "5", const("bc_full", [batch, length, groups, d // groups, n])], [name + "e"]),
                  oh.make_node("Reshape", [name + "e", const("packed_k", [batch, length, d * n])], [name + "p"])]
    nodes.append(oh.make_node("Mul", ["dt", "u"], ["dtu"]))
    if split == "kv":  # key = B, value = dt*u
        key, value = "Bmp", "dtu"
    else:  # key = dt*B (dt broadcast over N), value = u
        nodes += [oh.make_node("Reshape", ["Bmp", const("bk4", [batch, length, d, n])], ["Bk4"]),
                  oh.make_node("Mul", ["Bk4", "dt4"], ["dtB4"]),
                  oh.make_node("Reshape", ["dtB4", const("packed_k2", [batch, length, d * n])], ["dtB"])]
        key, value = "dtB", "u"
    decay = "decay"
    if per_head_decay:
        nodes.append(oh.make_node("Reshape", ["dtA", const("packed_head", [batch, length, d])], ["decay_h"]))
        decay = "decay_h"
    inputs = ["Cmp", key, value, "past" if past else "", decay]
    outputs = ["y", "state"]
    nodes.append(oh.make_node("LinearAttention", inputs, outputs, q_num_heads=d, kv_num_heads=d,
                              update_rule="gated", scale=scale))
    graph_inputs = [oh.make_tensor_value_info("u", f, [batch, length, d]),
                    oh.make_tensor_value_info("dt", f, [batch, length, d]),
                    oh.make_tensor_value_info("Bm", f, [batch, length, groups, n]),
                    oh.make_tensor_value_info("Cm", f, [batch, length, groups, n])]
    if past:
        inits.append(numpy_helper.from_array(np.zeros((batch, d, n, 1), np.float32), "past"))
    graph_outputs = [oh.make_tensor_value_info("y", f, None)]
    if use_state:
        graph_outputs.append(oh.make_tensor_value_info("state", f, None))
    graph = oh.make_graph(nodes, "mamba_la", graph_inputs, graph_outputs, inits)
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 27)])
    model.ir_version = 10
    return model, a


MAMBA_CASES = [
    # batch, L, D, N, groups, scale, split, per-head decay, zero past
    (1, 9, 8, 4, 1, 1.0, "kv", False, False),
    (2, 5, 6, 3, 2, 1.0, "kv", False, True),
    (1, 7, 8, 16, 4, 0.5, "dtB", False, False),
    (2, 1, 5, 1, 1, 0.0, "kv", False, False),
    (1, 6, 4, 3, 1, 1.0, "kv", True, False),
]


@pytest.mark.parametrize("batch,length,d,n,groups,scale,split,per_head,past", MAMBA_CASES)
def test_mamba_linear_attention_raised(tmp_path, batch, length, d, n, groups, scale, split, per_head, past):
    model, a = mamba_linear_attention(batch, length, d, n, groups, scale, split, per_head, past)
    ir = ir_after_pipeline(model, tmp_path)
    assert "ssmc.SelectiveScan" in ir and "LinearAttention" not in ir, ir
    u = f32(rng.standard_normal((batch, length, d)))
    dt = f32(rng.uniform(0.05, 0.5, (batch, length, d)))
    bm = f32(rng.standard_normal((batch, length, groups, n)))
    cm = f32(rng.standard_normal((batch, length, groups, n)))
    a_full = np.broadcast_to(a, (d, n))
    y = selective_scan_ref(u.transpose(0, 2, 1), dt.transpose(0, 2, 1), a_full,
                           bm.transpose(0, 2, 3, 1), cm.transpose(0, 2, 3, 1))
    effective = 1 / np.sqrt(n) if scale == 0 else scale
    want = (effective * y).transpose(0, 2, 1)
    check(model, {"u": u, "dt": dt, "Bm": bm, "Cm": cm}, [f32(want)], rtol=1e-4, atol=1e-5)


def test_not_raised_when_state_is_used(tmp_path):
    # present_state is a graph output: SelectiveScan has no final state, so the node must stay.
    model, _ = mamba_linear_attention(1, 4, 4, 2, 1, use_state=True)
    ir = ir_after_pipeline(model, tmp_path)
    assert "LinearAttention" in ir and "SelectiveScan" not in ir


def test_not_raised_when_decay_is_not_dt_times_a(tmp_path):
    # decay = dt*A + dt*A*dt is no longer Δ·A: stays LinearAttention and still compiles, checked against numpy.
    model, a = mamba_linear_attention(1, 5, 4, 3, 1)
    g = model.graph
    for node in g.node:
        if node.op_type == "Mul" and list(node.input) == ["dt4", "A"]:
            node.output[0] = "dtA0"
    g.node.insert(0, oh.make_node("Mul", ["dtA0", "dt4"], ["dtA"]))
    # keep topological order: move the new node after its producer
    nodes = list(g.node)
    first = nodes.pop(0)
    idx = [i for i, n in enumerate(nodes) if "dtA0" in n.output][0]
    nodes.insert(idx + 1, first)
    del g.node[:]
    g.node.extend(nodes)
    ir = ir_after_pipeline(model, tmp_path)
    assert "LinearAttention" in ir and "SelectiveScan" not in ir, ir
    u = f32(rng.standard_normal((1, 5, 4)))
    dt = f32(rng.uniform(0.05, 0.5, (1, 5, 4)))
    bm = f32(rng.standard_normal((1, 5, 1, 3)))
    cm = f32(rng.standard_normal((1, 5, 1, 3)))
    decay = (dt[..., None].astype(np.float64) ** 2 * a).reshape(1, 5, 12)
    key = np.broadcast_to(bm, (1, 5, 4, 3)).reshape(1, 5, 12)
    query = np.broadcast_to(cm, (1, 5, 4, 3)).reshape(1, 5, 12)
    want, _ = linear_attention(query, key, dt * u, None, decay, None, 4, 4, "gated", 1.0)
    check(model, {"u": u, "dt": dt, "Bm": bm, "Cm": cm}, [f32(want)], rtol=1e-4, atol=1e-5)
