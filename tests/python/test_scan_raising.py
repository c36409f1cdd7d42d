"""Selective scans that reach ssmc only as an ONNX `Scan` (no ai.ssmc op): the frontend imports the Scan's
linear-recurrence body as ssmc.LinearScan and raise-selective-scan turns it, with the math around it, into
ssmc.SelectiveScan. The files are the SelectiveScan function bodies of tools/ssmc_export inlined into the main
graph; results are compared with onnxruntime running the same file and with the float64 numpy reference."""
import os
import subprocess

import numpy as np
import onnx
import onnx.inliner
import pytest
from onnx import TensorProto, helper as oh

from ssmc_testing import SSMC, compile_model, emitted_ir, errors, ir_after_pipeline, run_onnxruntime, save
from make_selective_scan_tests import make_case

OPTIONAL = ["D", "z", "delta_bias"]


def inlined_case(seed, shape, present, softplus, reverse, opset=17):
    """make_case's model with its SelectiveScan node replaced by the function body (a Scan over L)."""
    model, feeds, expected = make_case(np.random.default_rng(seed), shape, present, softplus, reverse, opset)
    model = onnx.inliner.inline_local_functions(model)
    del model.functions[:]
    assert not any(n.domain == "ai.ssmc" for n in model.graph.node)
    assert any(n.op_type == "Scan" for n in model.graph.node)
    kept = [i for i in model.opset_import if i.domain != "ai.ssmc"]
    del model.opset_import[:]
    model.opset_import.extend(kept)
    model.ir_version = 10
    return model, feeds, expected


def run_and_compare(model, feeds, expected, tmp_path, threshold=1e-5):
    compiled = compile_model(model, tmp_path)
    got = compiled.run(*feeds.values())[0]
    ort = run_onnxruntime(model, tmp_path, *feeds.values())[0]
    scale = float(np.abs(expected).max())
    max_abs, _ = errors(got, expected)
    ort_abs, _ = errors(got, ort)
    print(f"vs numpy: max-abs {max_abs:.3g} (scale {scale:.3g}); vs onnxruntime: max-abs {ort_abs:.3g}")
    assert max_abs <= threshold * scale
    assert ort_abs <= threshold * scale


SHAPES = [
    # batch, D, L, N, G, rank of B/C
    (1, 8, 9, 4, 1, 3),
    (2, 6, 5, 16, 2, 4),
    (1, 12, 7, 1, 4, 4),
    (1, 5, 1, 3, 1, 4),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("softplus,reverse", [(False, False), (True, True)])
@pytest.mark.parametrize("present", [[], ["D", "z", "delta_bias"], ["D", "delta_bias"]])
def test_scan_body_raised(tmp_path, shape, softplus, reverse, present):
    seed = SHAPES.index(shape) * 8 + 2 * softplus + 4 * len(present) + reverse
    model, feeds, expected = inlined_case(seed, shape, present, softplus, reverse)
    ir = ir_after_pipeline(model, tmp_path)
    assert "ssmc.SelectiveScan" in ir and "ssmc.LinearScan" not in ir, ir
    run_and_compare(model, feeds, expected, tmp_path)


def test_scan_body_opset_21(tmp_path):
    model, feeds, expected = inlined_case(3, (1, 8, 6, 4, 2, 4), ["D", "z", "delta_bias"], True, False, opset=21)
    assert "ssmc.SelectiveScan" in ir_after_pipeline(model, tmp_path)
    run_and_compare(model, feeds, expected, tmp_path)


def linear_scan_model(a_expr, body=None):
    """h_l = a_l*h_{l-1} + b_l over axis 1 of (2, L=6, 5) inputs, with a = a_expr(x) built from graph inputs."""
    f = TensorProto.FLOAT
    step = body or oh.make_graph(
        [oh.make_node("Mul", ["h", "a_t"], ["ah"]), oh.make_node("Add", ["b_t", "ah"], ["h2"]),
         oh.make_node("Identity", ["h2"], ["out"])],
        "step", [oh.make_tensor_value_info(n, f, None) for n in ("h", "a_t", "b_t")],
        [oh.make_tensor_value_info(n, f, None) for n in ("h2", "out")])
    nodes = a_expr + [
        oh.make_node("Scan", ["h0", "a", "b"], ["last", "all"], num_scan_inputs=2, scan_input_axes=[1, 1],
                     scan_output_axes=[1], body=step)]
    graph = oh.make_graph(
        nodes, "g",
        [oh.make_tensor_value_info("x", f, [2, 6, 5]), oh.make_tensor_value_info("b", f, [2, 6, 5]),
         oh.make_tensor_value_info("h0", f, [2, 5])],
        [oh.make_tensor_value_info("all", f, [2, 6, 5]), oh.make_tensor_value_info("last", f, [2, 5])])
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)])
    model.ir_version = 9
    return model


def test_linear_recurrence_not_mamba_compiles(tmp_path):
    # A Scan computing h = sigmoid(x)*h + b (not a selective scan): imported as LinearScan, compiled as is.
    model = linear_scan_model([oh.make_node("Sigmoid", ["x"], ["a"])])
    ir = ir_after_pipeline(model, tmp_path)
    assert "ssmc.LinearScan" in ir and "SelectiveScan" not in ir
    rng = np.random.default_rng(1)
    x, b, h0 = (rng.standard_normal(s).astype(np.float32) for s in ((2, 6, 5), (2, 6, 5), (2, 5)))
    a = 1 / (1 + np.exp(-x.astype(np.float64)))
    h = h0.astype(np.float64)
    states = []
    for i in range(6):
        h = a[:, i] * h + b[:, i]
        states.append(h)
    compiled = compile_model(model, tmp_path)
    got_all, got_last = compiled.run(x, b, h0)
    np.testing.assert_allclose(got_all, np.stack(states, 1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_last, h, rtol=1e-5, atol=1e-5)
    ort_all, ort_last = run_onnxruntime(model, tmp_path, x, b, h0)
    np.testing.assert_allclose(got_all, ort_all, rtol=1e-5, atol=1e-5)


def test_other_scan_bodies_are_unrolled(tmp_path):
    # h = a*h + b*h is no linear recurrence of this form: not raised, the Scan is unrolled at import (one copy
    # of the body per step) and matches onnxruntime.
    f = TensorProto.FLOAT
    body = oh.make_graph(
        [oh.make_node("Mul", ["h", "a_t"], ["ah"]), oh.make_node("Mul", ["b_t", "h"], ["bh"]),
         oh.make_node("Add", ["ah", "bh"], ["h2"]), oh.make_node("Identity", ["h2"], ["out"])],
        "step", [oh.make_tensor_value_info(n, f, None) for n in ("h", "a_t", "b_t")],
        [oh.make_tensor_value_info(n, f, None) for n in ("h2", "out")])
    model = linear_scan_model([oh.make_node("Sigmoid", ["x"], ["a"])], body=body)
    ir = ir_after_pipeline(model, tmp_path)
    assert "LinearScan" not in ir and "SelectiveScan" not in ir and "Scan" not in ir.replace("ssmc", "")
    rng = np.random.default_rng(4)
    x, b, h0 = (rng.standard_normal(s).astype(np.float32) * 0.5 for s in ((2, 6, 5), (2, 6, 5), (2, 5)))
    got = compile_model(model, tmp_path).run(x, b, h0)
    want = run_onnxruntime(model, tmp_path, x, b, h0)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


MODELS = os.path.join(os.path.dirname(__file__), "..", "..", "models")


@pytest.mark.parametrize("name", ["vim-tiny-micro", "vmamba-tiny-micro", "vmamba-tiny-v0-micro"])
def test_zoo_models_with_inlined_scans(tmp_path, name):
    # The zoo models with every SelectiveScan node replaced by its function body (plain Scan graphs): all
    # scans raise, and the compiled model matches the stored PyTorch outputs.
    model = onnx.inliner.inline_local_functions(onnx.load(os.path.join(MODELS, name, "model.onnx")))
    del model.functions[:]
    scans = sum(n.op_type == "Scan" for n in model.graph.node)
    assert scans > 0 and not any(n.domain == "ai.ssmc" for n in model.graph.node)
    kept = [i for i in model.opset_import if i.domain != "ai.ssmc"]
    del model.opset_import[:]
    model.opset_import.extend(kept)
    ir = ir_after_pipeline(model, tmp_path)
    assert ir.count("= ssmc.SelectiveScan(") == scans and "LinearScan" not in ir
    path = save(model, tmp_path, "scan.onnx")
    lib = str(tmp_path / "model.so")
    subprocess.run([SSMC, "compile", path, "-o", lib], check=True, capture_output=True)
    proc = subprocess.run([SSMC, "check", lib, os.path.join(MODELS, name, "test_data_set_0"), "--rtol", "1e-4",
                           "--atol", "1e-5"], capture_output=True, text=True)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_deep_shared_mul_chain_stays_fast(tmp_path):
    # x^(2^60) as 60 squarings feeding a ReduceSum: every Mul reads one value twice, which a naive walk of the
    # raising's term analysis would visit 2^60 times. The pass must give up quickly (and change nothing).
    f = TensorProto.FLOAT
    nodes = [oh.make_node("Mul", [f"x{i}", f"x{i}"], [f"x{i + 1}"]) for i in range(60)]
    nodes.append(oh.make_node("ReduceSum", ["x60", "axes"], ["y"], keepdims=0))
    graph = oh.make_graph(nodes, "g", [oh.make_tensor_value_info("x0", f, [2, 3])], [oh.make_tensor_value_info("y", f, None)],
                          [onnx.numpy_helper.from_array(np.array([1], np.int64), "axes")])
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)])
    path = str(tmp_path / "deep.onnx")
    onnx.save(model, path)
    proc = subprocess.run([SSMC, "dump-ir", path, "--after", "dce"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "ReduceSum" in proc.stdout


COMBOS = [(present, softplus, reverse)
          for mask in range(8)
          for present in [[name for bit, name in enumerate(OPTIONAL) if mask >> bit & 1]]
          for softplus in (False, True) for reverse in (False, True)]


@pytest.mark.parametrize("present,softplus,reverse", COMBOS)
def test_scan_operands_folded(tmp_path, present, softplus, reverse):
    """After the full pipeline the exported body's softplus, bias, D·u, gate and reversals are one scan node."""
    k = COMBOS.index((present, softplus, reverse))
    shape = (1, 8, 7, 4, 2, 4) if k % 2 else (2, 6, 5, 3, 1, 3)
    model, feeds, expected = inlined_case(100 + k, shape, present, softplus, reverse)
    ir = emitted_ir(model, tmp_path)
    scans = [line for line in ir.splitlines() if "ssmc.SelectiveScan(" in line]
    assert len(scans) == 1, ir
    for op in ("Gather(", "Softplus(", "Sigmoid(", "Where(", "Greater(", "FusedElementwise(", "LinearScan("):
        assert op not in ir, ir
    scan = scans[0]
    result = scan.split("=", 1)[0].strip()
    assert f"return {result}" in ir, ir
    operands = [s.strip() for s in scan.split("ssmc.SelectiveScan(", 1)[1].split(")", 1)[0].split(",")]
    operands += ["none"] * (8 - len(operands))
    assert operands[:3] == ["%u", "%delta", "%A"], scan
    for name, got in zip("BC", operands[3:5]):
        # B and C are the inputs themselves or their Reshape to (batch, G, N, L).
        assert got == f"%{name}" or any(line.strip().startswith(f"{got} = Reshape(%{name},") for line in ir.splitlines()), ir
    for name, got in zip(OPTIONAL, operands[5:]):
        assert got == (f"%{name}" if name in present else "none"), scan
    attributes = scan.split(")", 1)[1]
    assert ("delta_softplus = 1" in attributes) == softplus, scan
    assert ("reverse = 1" in attributes) == reverse, scan
    run_and_compare(model, feeds, expected, tmp_path)
