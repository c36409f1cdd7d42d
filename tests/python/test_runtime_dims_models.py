"""Zoo models with free image sizes: VMamba exported with symbolic batch, height and width compiles once without
--input-shape and runs at sizes it was never compiled for, matching onnxruntime, and its stored data sets (from
PyTorch) at the sizes they were made at."""
import os

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from ssmc_py import CompiledModel
from ssmc_testing import SSMC, errors, run_onnxruntime

import subprocess

MODELS = os.path.join(os.path.dirname(__file__), "..", "..", "models")
VMAMBA = os.path.join(MODELS, "vmamba-tiny-micro-sizes")


@pytest.fixture(scope="module")
def vmamba(tmp_path_factory):
    out = tmp_path_factory.mktemp("vmamba_free")
    lib = os.path.join(out, "libvmamba.so")
    result = subprocess.run([SSMC, "compile", os.path.join(VMAMBA, "model.onnx"), "-o", lib, "--name", "vmamba"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return CompiledModel(lib, threads=2), onnx.load(os.path.join(VMAMBA, "model.onnx")), out


def test_stored_pytorch_data_sets(vmamba):
    compiled, _, _ = vmamba
    for name in sorted(os.listdir(VMAMBA)):
        if not name.startswith("test_data_set_"):
            continue
        folder = os.path.join(VMAMBA, name)
        x = numpy_helper.to_array(onnx.load_tensor(os.path.join(folder, "input_0.pb")))
        want = numpy_helper.to_array(onnx.load_tensor(os.path.join(folder, "output_0.pb")))
        (got,) = compiled.run(x)
        max_abs, _ = errors(got, want)
        assert got.shape == want.shape
        assert max_abs <= 1e-5 * np.abs(want).max(), f"{name} {x.shape}: max-abs {max_abs:.3g} of max {np.abs(want).max():.3g}"


@pytest.mark.parametrize("size", [(1, 32, 32), (2, 17, 23), (1, 64, 40), (3, 8, 8), (1, 96, 33)])
def test_sizes_never_compiled_for_match_onnxruntime(vmamba, size):
    compiled, model, out = vmamba
    b, height, width = size
    x = np.random.default_rng(height * 100 + width).standard_normal((b, 3, height, width)).astype(np.float32)
    (got,) = compiled.run(x)
    (want,) = run_onnxruntime(model, out, x)
    max_abs, max_rel = errors(got, want)
    assert got.shape == want.shape
    assert max_abs <= 1e-5 * np.abs(want).max(), f"{size}: max-abs {max_abs:.3g} (rel-to-max {max_abs / np.abs(want).max():.3g})"

