"""ssmc.SelectiveScan (ai.ssmc domain) against a float64 numpy reference of Mamba's selective_scan_fn.

Covers every combination of the optional inputs and flags (D, z, delta_bias, delta_softplus, reverse),
groups 1/2/4 with B/C of rank 3 and 4, state sizes 1..64, channel counts that are not a multiple of the
vector width (also below it and per group), L = 1 and L not a multiple of the chunk length, batch > 1.
Criterion: max-abs error <= 1e-5 * max|reference|.
"""
import itertools

import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from ssmc_testing import compile_model, errors

OPTIONAL = ["D", "z", "delta_bias"]


def scan_model(shapes, present, softplus, reverse):
    """A one-node model: graph inputs u, delta, A, B, C and the present optional inputs, output y."""
    order = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias"]
    names = [n if n in shapes and (n not in OPTIONAL or n in present) else "" for n in order]
    while names[-1] == "":
        names.pop()
    inputs = [h.make_tensor_value_info(n, T.FLOAT, shapes[n]) for n in names if n]
    node = h.make_node("SelectiveScan", names, ["y"], domain="ai.ssmc", name="scan0",
                       delta_softplus=int(softplus), reverse=int(reverse))
    graph = h.make_graph([node], "scan", inputs, [h.make_tensor_value_info("y", T.FLOAT, shapes["u"])])
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 17), h.make_opsetid("ai.ssmc", 1)]), [n for n in names if n]


def reference(u, delta, A, B, C, D=None, z=None, delta_bias=None, softplus=False, reverse=False):
    """The formula of selective_scan_fn in float64, one position at a time."""
    u, delta, A, B, C = (np.asarray(x, np.float64) for x in (u, delta, A, B, C))
    batch, channels, length = u.shape
    if B.ndim == 3:
        B, C = B[:, None], C[:, None]
    group = np.arange(channels) // (channels // B.shape[1])
    B, C = B[:, group], C[:, group]  # (batch, channels, N, L)
    dt = delta + (0 if delta_bias is None else np.asarray(delta_bias, np.float64)[None, :, None])
    if softplus:
        dt = np.logaddexp(0.0, dt)
    state = np.zeros((batch, channels, A.shape[1]))
    y = np.zeros((batch, channels, length))
    for l in (reversed(range(length)) if reverse else range(length)):
        state = np.exp(dt[:, :, l, None] * A[None]) * state + (dt[:, :, l] * u[:, :, l])[:, :, None] * B[:, :, :, l]
        y[:, :, l] = (state * C[:, :, :, l]).sum(-1)
    if D is not None:
        y += np.asarray(D, np.float64)[None, :, None] * u
    if z is not None:
        z = np.asarray(z, np.float64)
        y *= z / (1 + np.exp(-z))
    return y


def make_inputs(rng, batch, channels, length, states, groups, rank, softplus):
    f = np.float32
    u = rng.standard_normal((batch, channels, length)).astype(f)
    # Raw delta is a step size when softplus is off; keep it positive and small as trained models have it.
    delta = (rng.standard_normal((batch, channels, length)) * 0.5 - 1.0 if softplus
             else rng.uniform(0.01, 0.3, (batch, channels, length))).astype(f)
    A = (-np.exp(rng.standard_normal((channels, states)) * 0.5)).astype(f)
    bc_shape = (batch, groups, states, length) if rank == 4 else (batch, states, length)
    return {
        "u": u, "delta": delta, "A": A,
        "B": rng.standard_normal(bc_shape).astype(f), "C": rng.standard_normal(bc_shape).astype(f),
        "D": rng.standard_normal(channels).astype(f),
        "z": rng.standard_normal((batch, channels, length)).astype(f),
        # Without softplus, a negative delta + delta_bias would make the scan grow without bound.
        "delta_bias": (rng.standard_normal(channels) * 0.3 if softplus else rng.uniform(0, 0.2, channels)).astype(f),
    }


def check(tmp_path, batch, channels, length, states, groups, rank, present, softplus, reverse, seed=0, threads=0):
    assert rank == 4 or groups == 1
    rng = np.random.default_rng(seed)
    data = make_inputs(rng, batch, channels, length, states, groups, rank, softplus)
    model, names = scan_model({n: list(a.shape) for n, a in data.items()}, present, softplus, reverse)
    got = compile_model(model, tmp_path, threads=threads).run(*[data[n] for n in names])[0]
    want = reference(**{n: data[n] for n in names}, softplus=softplus, reverse=reverse)
    max_abs, max_rel = errors(got, want)
    scale = float(np.abs(want).max())
    print(f"B={batch} D={channels} L={length} N={states} G={groups} rank={rank} {sorted(present)} "
          f"softplus={softplus} reverse={reverse}: max-abs {max_abs:.3g} max-rel {max_rel:.3g} (max|ref| {scale:.3g})")
    assert got.shape == want.shape
    assert np.isfinite(got).all()
    assert max_abs <= 1e-5 * scale, f"max-abs error {max_abs:.3g} > 1e-5 * {scale:.3g}"


# Every combination of the optional inputs and both flags; the layout (groups, B/C rank, N) rotates with
# the case so each combination also meets several layouts.
LAYOUTS = [(1, 3, 16), (1, 4, 1), (2, 4, 16), (4, 4, 1), (4, 4, 16), (1, 3, 1), (2, 4, 1)]
OPTION_CASES = [
    (frozenset(n for n, on in zip(OPTIONAL, flags[:3]) if on), flags[3], flags[4], LAYOUTS[i % len(LAYOUTS)])
    for i, flags in enumerate(itertools.product([False, True], repeat=5))
]


@pytest.mark.parametrize("present,softplus,reverse,layout", OPTION_CASES,
                         ids=[f"{'+'.join(sorted(p)) or 'none'}-sp{int(s)}-rev{int(r)}-G{l[0]}r{l[1]}N{l[2]}"
                              for p, s, r, l in OPTION_CASES])
def test_option_combinations(tmp_path, present, softplus, reverse, layout):
    groups, rank, states = layout
    # 44 channels: 11 per group with G=4, neither a multiple of 8 nor of 16 lanes; L=37 leaves a partial chunk.
    check(tmp_path, 1, 44, 37, states, groups, rank, present, softplus, reverse)


@pytest.mark.parametrize("states", [1, 2, 3, 8, 15, 16, 17, 31, 33, 64])
@pytest.mark.parametrize("reverse", [False, True])
def test_state_sizes(tmp_path, states, reverse):
    check(tmp_path, 1, 24, 50, states, 1, 4, set(OPTIONAL), True, reverse, seed=states)


@pytest.mark.parametrize("batch,channels,length,groups,rank", [
    (1, 1, 1, 1, 3),      # one channel, one position
    (2, 7, 1, 1, 3),      # L = 1, odd D, batch 2
    (1, 5, 16, 1, 4),     # D below the vector width, L exactly one chunk
    (2, 33, 20, 1, 3),    # D one past two 16-lane blocks
    (1, 12, 9, 4, 4),     # 3 channels per group
    (3, 40, 33, 2, 4),    # 20 channels per group, batch 3
    (1, 64, 100, 4, 4),   # whole blocks, several chunks
])
@pytest.mark.parametrize("reverse", [False, True])
def test_edge_shapes(tmp_path, batch, channels, length, groups, rank, reverse):
    check(tmp_path, batch, channels, length, 16, groups, rank, {"D", "z", "delta_bias"}, True, reverse, seed=channels)


@pytest.mark.parametrize("threads", [1, 2])
def test_threads_agree_with_reference(tmp_path, threads):
    # 6 work items over 2 batches: with 2 threads each thread scans different batches and blocks.
    check(tmp_path, 2, 96, 70, 16, 2, 4, {"D", "z", "delta_bias"}, True, False, seed=5, threads=threads)
