"""ssmc.SelectiveScan with extents given at run time: the batch and the sequence length L are symbolic, the
model compiles once and runs at many sizes, compared with the float64 numpy reference of selective_scan_fn
(tests/python/test_selective_scan.py). Channels, states and groups stay static (model widths); a symbolic
one is refused at compile time with a message naming it. ssmc.LinearScan (an ONNX Scan of h = a*h + b) takes
every extent at run time, checked against a float64 numpy recurrence.
Criterion: max-abs error <= 1e-5 * max|reference|.
"""
import os
import re
import subprocess

import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from ssmc_testing import SSMC, compile_model, emitted_ir, errors, save
from test_selective_scan import OPTION_CASES, OPTIONAL, make_inputs, reference, scan_model
from test_selective_scan_layouts import LAYOUTS, PAIRWISE, SEQUENCE, layout_model, make_data, to_logical, to_stored


def symbolic_shapes(channels, states, groups, rank, batch="B", length="L"):
    """Input shapes of the one-node scan model with symbolic batch and length."""
    seq = [batch, channels, length]
    bc = [batch, groups, states, length] if rank == 4 else [batch, states, length]
    return {"u": seq, "delta": seq, "A": [channels, states], "B": bc, "C": bc, "D": [channels], "z": seq,
            "delta_bias": [channels]}


def check_close(got, want, what):
    max_abs, max_rel = errors(got, want)
    scale = float(np.abs(want).max())
    print(f"{what}: max-abs {max_abs:.3g} max-rel {max_rel:.3g} (max|ref| {scale:.3g})")
    assert got.shape == want.shape, f"{what}: shape {got.shape}, reference {want.shape}"
    assert np.isfinite(got).all(), what
    assert max_abs <= 1e-5 * scale, f"{what}: max-abs error {max_abs:.3g} > 1e-5 * {scale:.3g}"


def run_sizes(tmp_path, channels, states, groups, rank, present, softplus, reverse, sizes, batch="B", threads=0, seed=0):
    """Compiles one scan model with symbolic L (and batch unless `batch` is a number), runs it at `sizes`."""
    model, names = scan_model(symbolic_shapes(channels, states, groups, rank, batch=batch), present, softplus, reverse)
    compiled = compile_model(model, tmp_path, threads=threads)
    assert compiled.inputs[0]["shape"][2] == -1, "L must be given at run time"
    rng = np.random.default_rng(seed)
    for b, length in sizes:
        data = make_inputs(rng, b, channels, length, states, groups, rank, softplus)
        got = compiled.run(*[data[n] for n in names])[0]
        want = reference(**{n: data[n] for n in names}, softplus=softplus, reverse=reverse)
        check_close(got, want, f"B={b} D={channels} L={length} N={states} G={groups} rank={rank} {sorted(present)} "
                               f"softplus={softplus} reverse={reverse}")


# OPTION_CASES (test_selective_scan.py): every combination of the optional inputs and both flags, the
# (groups, B/C rank, N) layout rotating with the case.
@pytest.mark.parametrize("present,softplus,reverse,shape", OPTION_CASES,
                         ids=[f"{'+'.join(sorted(p)) or 'none'}-sp{int(s)}-rev{int(r)}-G{l[0]}r{l[1]}N{l[2]}"
                              for p, s, r, l in OPTION_CASES])
def test_option_combinations_at_runtime_sizes(tmp_path, present, softplus, reverse, shape):
    groups, rank, states = shape
    # 44 channels (11 per group with G = 4); one library for L = 1, a prime L, and batch 1 to 3.
    run_sizes(tmp_path, 44, states, groups, rank, present, softplus, reverse, [(1, 1), (2, 37), (3, 5), (1, 64)])


@pytest.mark.parametrize("states", [1, 17, 64])
@pytest.mark.parametrize("reverse", [False, True])
def test_state_sizes_with_static_batch(tmp_path, states, reverse):
    # Only L symbolic: the batch is a static 2.
    run_sizes(tmp_path, 24, states, 1, 4, set(OPTIONAL), True, reverse, [(2, 50), (2, 3), (2, 129)], batch=2, seed=states)


@pytest.mark.parametrize("threads", [1, 2])
def test_threads_agree_with_reference(tmp_path, threads):
    # Work items are (batch, channel) pairs: with 2 threads a batch entry's channels split between threads.
    run_sizes(tmp_path, 96, 16, 2, 4, set(OPTIONAL), True, False, [(1, 70), (3, 9), (2, 200)], threads=threads, seed=5)


@pytest.mark.parametrize("reverse", [False, True])
def test_stored_layouts_at_runtime_sizes(tmp_path, reverse):
    # Transposes and full reversals around the scans have symbolic dims: absorb-scan-layouts must still fold
    # every one into the layout flags (no copy left), and the strided reads and writes follow the run-time L.
    channels, states, groups = 36, 16, 4
    model, names = layout_model(PAIRWISE, "B", channels, "L", states, groups, reverse)
    ops = re.findall(r"= ([A-Za-z.]+)\(", emitted_ir(model, tmp_path))
    assert "Transpose" not in ops and "Slice" not in ops, f"copies left around the scans: {ops}"
    assert ops.count("ssmc.SelectiveScan") == len(PAIRWISE)
    compiled = compile_model(model, tmp_path)
    rng = np.random.default_rng(11)
    for batch, length in [(2, 37), (1, 1), (3, 16)]:
        data = make_data(rng, batch, channels, length, states, groups)
        got = compiled.run(*[data[n] for n in names])
        for n, row in enumerate(PAIRWISE):
            ops_in = {name: to_logical(data[f"{name}{row[k]}"], LAYOUTS[row[k]]) for k, name in enumerate(SEQUENCE[:3])}
            y = reference(ops_in["u"], ops_in["delta"], data["A"], data["B"], data["C"], D=data["D"], z=ops_in["z"],
                          delta_bias=data["delta_bias"], softplus=True, reverse=reverse)
            check_close(got[n], to_stored(y, LAYOUTS[row[3]]), f"B={batch} L={length} layouts {[LAYOUTS[i] for i in row]}")


def test_length_from_spatial_dims(tmp_path):
    # VMamba's form: L = H*W from a Reshape of (B, D, H, W) maps; B and C from (B, G, N, H, W).
    channels, states, groups = 12, 4, 2
    flat = nh.from_array(np.array([0, 0, -1], np.int64), "flat")
    flat_bc = nh.from_array(np.array([0, 0, 0, -1], np.int64), "flat_bc")
    seq = [h.make_tensor_value_info(n, T.FLOAT, ["B", channels, "H", "W"]) for n in ("u", "delta")]
    bc = [h.make_tensor_value_info(n, T.FLOAT, ["B", groups, states, "H", "W"]) for n in ("Bm", "Cm")]
    inputs = seq + [h.make_tensor_value_info("A", T.FLOAT, [channels, states])] + bc + [
        h.make_tensor_value_info(n, T.FLOAT, [channels]) for n in ("D", "delta_bias")]
    nodes = [h.make_node("Reshape", [n, "flat"], [n + "_l"]) for n in ("u", "delta")]
    nodes += [h.make_node("Reshape", [n, "flat_bc"], [n + "_l"]) for n in ("Bm", "Cm")]
    nodes.append(h.make_node("SelectiveScan", ["u_l", "delta_l", "A", "Bm_l", "Cm_l", "D", "", "delta_bias"], ["y"],
                             domain="ai.ssmc", delta_softplus=1))
    graph = h.make_graph(nodes, "scan_hw", inputs, [h.make_tensor_value_info("y", T.FLOAT, None)], [flat, flat_bc])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17), h.make_opsetid("ai.ssmc", 1)])
    compiled = compile_model(model, tmp_path)
    rng = np.random.default_rng(2)
    for b, height, width in [(1, 3, 5), (2, 8, 6), (1, 1, 1)]:
        length = height * width
        d = make_inputs(rng, b, channels, length, states, groups, 4, True)
        args = [d["u"].reshape(b, channels, height, width), d["delta"].reshape(b, channels, height, width), d["A"],
                d["B"].reshape(b, groups, states, height, width), d["C"].reshape(b, groups, states, height, width),
                d["D"], d["delta_bias"]]
        (got,) = compiled.run(*args)
        want = reference(d["u"], d["delta"], d["A"], d["B"], d["C"], D=d["D"], delta_bias=d["delta_bias"], softplus=True)
        check_close(got, want, f"B={b} H={height} W={width}")


def test_symbolic_channels_are_refused(tmp_path):
    model, _ = scan_model(symbolic_shapes("D", 4, 1, 3), set(), False, False)
    path = save(model, tmp_path)
    result = subprocess.run([SSMC, "compile", path, "-o", os.path.join(str(tmp_path), "lib.so")],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "channels D" in result.stderr and "must be static" in result.stderr, result.stderr


def linear_scan_model(input_shape, state_shape, axis, output_axis):
    """h = sigmoid(x) * h + b over `axis` of x and b (ONNX Scan, imported as ssmc.LinearScan)."""
    step = h.make_graph(
        [h.make_node("Mul", ["h", "a_t"], ["ah"]), h.make_node("Add", ["b_t", "ah"], ["h2"]),
         h.make_node("Identity", ["h2"], ["out"])],
        "step", [h.make_tensor_value_info(n, T.FLOAT, None) for n in ("h", "a_t", "b_t")],
        [h.make_tensor_value_info(n, T.FLOAT, None) for n in ("h2", "out")])
    nodes = [h.make_node("Sigmoid", ["x"], ["a"]),
             h.make_node("Scan", ["h0", "a", "b"], ["last", "all"], num_scan_inputs=2, scan_input_axes=[axis, axis],
                         scan_output_axes=[output_axis], body=step)]
    inputs = [h.make_tensor_value_info("x", T.FLOAT, input_shape), h.make_tensor_value_info("b", T.FLOAT, input_shape),
              h.make_tensor_value_info("h0", T.FLOAT, state_shape)]
    outputs = [h.make_tensor_value_info(n, T.FLOAT, None) for n in ("all", "last")]
    model = h.make_model(h.make_graph(nodes, "linear_scan", inputs, outputs), opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 9
    return model


@pytest.mark.parametrize("axis,output_axis", [(1, 1), (1, 0), (1, 2), (0, 0), (0, 2), (2, 1)])
def test_linear_scan_at_runtime_sizes(tmp_path, axis, output_axis):
    # The state is (B, C), x and b have L inserted at `axis`; B and L are symbolic, C is a static 5 in half the
    # cases and symbolic in the others (then the inner extents come from run time too).
    channels = "C" if (axis + output_axis) % 2 else 5
    state_dims = ["B", channels]
    model = linear_scan_model(state_dims[:axis] + ["L"] + state_dims[axis:], state_dims, axis, output_axis)
    assert "ssmc.LinearScan" in emitted_ir(model, tmp_path)
    compiled = compile_model(model, tmp_path)
    rng = np.random.default_rng(axis * 3 + output_axis)
    for b, length, c in [(2, 6, 5), (1, 1, 5), (3, 40, 5), (2, 9, 3)]:
        if channels == 5 and c != 5:
            continue
        state = [b, c]
        shape = state[:axis] + [length] + state[axis:]
        x, bb = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
        h0 = rng.standard_normal(state).astype(np.float32)
        a = 1 / (1 + np.exp(-np.moveaxis(x.astype(np.float64), axis, 0)))
        bl = np.moveaxis(bb.astype(np.float64), axis, 0)
        hv, states = h0.astype(np.float64), []
        for l in range(length):
            hv = a[l] * hv + bl[l]
            states.append(hv)
        want_all = np.moveaxis(np.stack(states, 0), 0, output_axis)
        got_all, got_last = compiled.run(x, bb, h0)
        check_close(got_all, want_all, f"axis {axis} output_axis {output_axis} B={b} L={length} C={c}: all states")
        check_close(got_last, hv, f"axis {axis} output_axis {output_axis} B={b} L={length} C={c}: last state")


def test_runtime_batch_with_static_length(tmp_path):
    # Another input's symbolic T puts the graph in run-time extents mode; the scan's own L is a static 9, its
    # batch B is given at run time.
    channels, states, length = 20, 3, 9
    model, names = scan_model(symbolic_shapes(channels, states, 1, 3, length=length), {"D", "z"}, False, True)
    model.graph.input.append(h.make_tensor_value_info("x", T.FLOAT, ["B", "T"]))
    model.graph.node.append(h.make_node("Relu", ["x"], ["r"]))
    model.graph.output.append(h.make_tensor_value_info("r", T.FLOAT, None))
    compiled = compile_model(model, tmp_path)
    rng = np.random.default_rng(4)
    for b, t in [(1, 2), (3, 5), (2, 1)]:
        data = make_inputs(rng, b, channels, length, states, 1, 3, False)
        x = rng.standard_normal((b, t)).astype(np.float32)
        y, r = compiled.run(*[data[n] for n in names], x)
        check_close(y, reference(**{n: data[n] for n in names}, reverse=True), f"B={b} L={length}")
        assert np.array_equal(r, np.maximum(x, 0))
