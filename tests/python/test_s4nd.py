"""ai.ssmc::S4ND2D (docs/ops/S4ND2D.md): ssmc's expand-s4nd pass computes the kernels for the compiled input
size. References are independent of ssmc: the float64 FFT application of the Python kernels
(tools/ssmc_models/s4nd_kernel.py, numpy only), the PyTorch forward stored with the committed
`--s4nd-form ssm` model, and onnxruntime running the same model with its S4ND2D nodes rewritten into plain
ONNX by tools/s4nd_separable.py. With torch available, the model is also re-exported at another size."""
import math
import os
import subprocess

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper as oh, numpy_helper

from ssmc_testing import SSMC, compile_model, errors
from ssmc_models.s4nd_kernel import axis_kernel, fft_conv_reference

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
MODEL_DIR = os.path.join(ROOT, "models", "s4nd-convnext-tiny-micro-ssm")
# The S4ND bound (float32 convolutions of float64 kernels vs the float64 FFT reference).
LIMIT = 1e-3


def random_parameters(rng, h, pairs, kernel_channels):
    """One axis kernel's parameters, drawn like the exporter's random init (float32, as stored in ONNX)."""
    f = lambda a: np.asarray(a, np.float32)  # noqa: E731
    return [f(rng.uniform(math.log(0.1), math.log(1.0), (h, 1))), f(np.log(rng.uniform(0.05, 0.5, (1, pairs)))),
            f(rng.uniform(0.0, 32 * math.pi, (1, pairs))), f(rng.normal(0.0, 0.7, (1, 1, pairs, 2))),
            f(rng.normal(0.0, 0.7, (1, 1, pairs, 2))), f(rng.normal(0.0, 0.5, (kernel_channels, h, pairs, 2)))]


def single_layer(rng, x_shape, l_max, l_kernel, out_channels=0, pairs=32, batch_dim=None, constant_c=True):
    """A model with one S4ND2D node; returns (model, parameters per axis, D)."""
    h = x_shape[1]
    kc = 2 * out_channels if out_channels else 2
    params = [random_parameters(rng, h, pairs, kc) for _ in range(2)]
    d = rng.uniform(0.5, 1.5, (1, h)).astype(np.float32)
    names, inits = [], []
    for a in range(2):
        for key, value in zip(["log_dt", "A_real", "A_imag", "B", "P", "C"], params[a]):
            names.append(f"{key}_{a}")
            inits.append(numpy_helper.from_array(value, f"{key}_{a}"))
    names.append("D")
    inits.append(numpy_helper.from_array(d, "D"))
    out_h = out_channels or h
    dims = [batch_dim or x_shape[0]] + list(x_shape[1:])
    inputs = [oh.make_tensor_value_info("x", TensorProto.FLOAT, dims)]
    if not constant_c:
        inits = [i for i in inits if i.name != "C_1"]
        inputs.append(oh.make_tensor_value_info("C_1", TensorProto.FLOAT, list(params[1][5].shape)))
    node = oh.make_node("S4ND2D", ["x"] + names, ["y"], domain="ai.ssmc", name="layer", l_kernel=list(l_kernel),
                        l_max=list(l_max), out_channels=out_channels, bidirectional=1, d_state=2 * pairs)
    graph = oh.make_graph([node], "s4nd", inputs,
                          [oh.make_tensor_value_info("y", TensorProto.FLOAT, [dims[0], out_h] + list(x_shape[2:]))],
                          inits)
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17), oh.make_opsetid("ai.ssmc", 1)])
    return model, params, d


def reference(x, params, d, l_max, l_kernel, out_channels):
    l_in = x.shape[2:]
    kernels = [axis_kernel(*[p.astype(np.float64) for p in params[a]], l_kernel[a], min(l_in[a], l_max[a]))
               for a in range(2)]
    return fft_conv_reference(x, kernels, d, out_channels)


CASES = [
    # x shape, l_max, l_kernel, out_channels
    pytest.param((1, 4, 16, 12), (8, 20), (8, 10), 0, id="depthwise-height-truncated"),
    pytest.param((2, 3, 7, 9), (7, 9), (0, 5), 0, id="depthwise-odd-plain-C-batch2"),
    pytest.param((1, 5, 6, 6), (16, 16), (16, 16), 0, id="depthwise-input-shorter-than-l_max"),
    pytest.param((1, 3, 20, 20), (16, 16), (16, 16), 4, id="dense-stem-truncated"),
    pytest.param((2, 2, 9, 5), (4, 8), (4, 8), 3, id="dense-batch2-non-square"),
    pytest.param((1, 1, 1, 1), (3, 3), (3, 3), 0, id="one-pixel"),
]


@pytest.mark.parametrize("x_shape,l_max,l_kernel,out_channels", CASES)
def test_single_layer_matches_float64_fft(tmp_path, x_shape, l_max, l_kernel, out_channels):
    rng = np.random.default_rng(sum(x_shape) + out_channels)
    model, params, d = single_layer(rng, x_shape, l_max, l_kernel, out_channels)
    x = rng.standard_normal(x_shape).astype(np.float32)
    got = compile_model(model, tmp_path).run(x)[0]
    expected = reference(x, params, d, l_max, l_kernel, out_channels)
    assert got.shape == expected.shape
    max_abs, _ = errors(got, expected)
    scale = float(np.abs(expected).max())
    print(f"max-abs {max_abs:.3g}, rel-to-max {max_abs / scale:.3g}")
    # Float32 convolution of float64 kernels: well inside the S4ND bound.
    assert max_abs <= 1e-5 * scale


def test_symbolic_batch_fixed_at_compile_time(tmp_path):
    """A symbolic batch dim fixed with --input-shape (the kernels need only the spatial dims)."""
    rng = np.random.default_rng(5)
    model, params, d = single_layer(rng, (1, 2, 8, 6), (4, 4), (4, 4), out_channels=2, batch_dim="n")
    compiled = compile_model(model, tmp_path, "--input-shape", "x=3x2x8x6")
    x = rng.standard_normal((3, 2, 8, 6)).astype(np.float32)
    got = compiled.run(x)[0]
    expected = reference(x, params, d, (4, 4), (4, 4), 2)
    assert got.shape == expected.shape
    assert errors(got, expected)[0] <= 1e-5 * float(np.abs(expected).max())


def test_runtime_parameter_is_a_clear_error(tmp_path):
    rng = np.random.default_rng(1)
    model, _, _ = single_layer(rng, (1, 2, 4, 4), (4, 4), (4, 4), constant_c=False)
    model.ir_version = 10
    path = str(tmp_path / "m.onnx")
    onnx.save(model, path)
    proc = subprocess.run([SSMC, "compile", path, "-o", str(tmp_path / "m.so")], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "S4ND2D operand C_1 is not a compile-time constant" in proc.stderr
    assert "layer" in proc.stderr
    assert not os.path.exists(tmp_path / "m.so")


def load_test_data(folder):
    x = numpy_helper.to_array(onnx.load_tensor(os.path.join(folder, "input_0.pb")))
    y = numpy_helper.to_array(onnx.load_tensor(os.path.join(folder, "output_0.pb")))
    return x, y


def run_plain_in_onnxruntime(model, x, input_shape=None):
    import onnxruntime as ort
    from s4nd_separable import to_separable
    plain = to_separable(model, input_shape)
    session = ort.InferenceSession(plain.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def check_model(model, x, expected, tmp_path, what):
    got = compile_model(model, tmp_path).run(x)[0]
    assert got.shape == expected.shape
    max_abs, _ = errors(got, expected)
    rel = max_abs / float(np.abs(expected).max())
    print(f"{what}: max-abs {max_abs:.3g}, rel-to-max {rel:.3g}")
    assert rel <= LIMIT
    return got


def test_committed_ssm_model_matches_pytorch(tmp_path):
    model = onnx.load(os.path.join(MODEL_DIR, "model.onnx"))
    x, expected = load_test_data(os.path.join(MODEL_DIR, "test_data_set_0"))
    got = check_model(model, x, expected, tmp_path, "ssmc vs PyTorch (64x64)")
    ort_out = run_plain_in_onnxruntime(model, x)
    assert errors(got, ort_out)[0] <= 1e-5 * float(np.abs(ort_out).max())


@pytest.mark.parametrize("size", [(80, 48), (40, 72)])
def test_committed_ssm_model_at_other_sizes(tmp_path, size):
    """The same file compiled for another input size: the kernels follow the new size (truncated where
    the input exceeds l_max, shorter where it is smaller). Reference: onnxruntime on the plain rewrite."""
    model = onnx.load(os.path.join(MODEL_DIR, "model.onnx"))
    shape = [1, 3, size[0], size[1]]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for dim, v in zip(dims, shape):
        dim.dim_value = v
    del model.graph.value_info[:]
    x = np.random.default_rng(size[0]).standard_normal(shape).astype(np.float32)
    expected = run_plain_in_onnxruntime(model, x)
    check_model(model, x, expected, tmp_path, f"ssmc vs onnxruntime on the plain rewrite ({size[0]}x{size[1]})")


def export_venv_python():
    proc = subprocess.run([os.path.join(ROOT, "tools", "venv-path.sh"), "--export"], capture_output=True, text=True)
    python = os.path.join(proc.stdout.strip(), "bin", "python")
    complete = os.path.exists(os.path.join(proc.stdout.strip(), ".complete"))
    return python if proc.returncode == 0 and complete and os.path.exists(python) else None


@pytest.mark.skipif(export_venv_python() is None, reason="no PyTorch exporter venv (tools/setup.sh --export)")
def test_fresh_export_at_another_size_matches_pytorch(tmp_path):
    """Export with torch at 80x48 (seed 0, as the committed model) and compare with that PyTorch forward."""
    out = tmp_path / "export" / "model.onnx"
    proc = subprocess.run([export_venv_python(), os.path.join(ROOT, "tools", "export.py"), "s4nd-convnext-tiny-micro",
                           "--seed", "0", "--s4nd-form", "ssm", "--size", "80x48", "-o", str(out), "--test-data"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    x, expected = load_test_data(str(tmp_path / "export" / "test_data_set_0"))
    check_model(onnx.load(str(out)), x, expected, tmp_path, "ssmc vs PyTorch (80x48)")
