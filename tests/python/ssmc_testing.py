"""Shared helpers for the Python tests: compile an ONNX model with ssmc, run it, compare with a reference."""
import os
import subprocess

import numpy as np
import onnx

from ssmc_py import CompiledModel

SSMC = os.environ.get("SSMC", os.path.join(os.path.dirname(__file__), "..", "..", ".build", "debug", "ssmc"))


def save(model, directory, name="model.onnx"):
    """Writes `model` (IR version lowered to what onnxruntime reads) and returns its path."""
    model.ir_version = min(model.ir_version, 10)
    path = os.path.join(str(directory), name)
    onnx.save(model, path)
    return path


def compile_model(model, directory, *extra_args, threads=0):
    """Compiles `model` with ssmc into `directory` and loads it."""
    path = save(model, directory)
    lib = os.path.join(str(directory), "libmodel.so")
    result = subprocess.run([SSMC, "compile", path, "-o", lib, "--name", "model", *extra_args], capture_output=True, text=True)
    assert result.returncode == 0, f"ssmc compile failed:\n{result.stderr}"
    return CompiledModel(lib, threads=threads)


def ir_after_pipeline(model, directory, name="ir.onnx"):
    """The text IR of `model` after ssmc's standard pipeline (`ssmc dump-ir --after dce`)."""
    path = save(model, directory, name)
    result = subprocess.run([SSMC, "dump-ir", path, "--after", "dce"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def emitted_ir(model, directory, name="ir_model.onnx"):
    """The text IR `ssmc compile --emit ir` writes for `model`: the graph as compiled."""
    path = save(model, directory, name)
    out = os.path.join(str(directory), name + ".ir")
    result = subprocess.run([SSMC, "compile", path, "--emit", "ir", "-o", out], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with open(out) as f:
        return f.read()


def run_onnxruntime(model, directory, *inputs):
    """Runs `model` in onnxruntime with graph optimizations off (a plain reference)."""
    import onnxruntime as ort
    path = save(model, directory, "reference.onnx")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, inputs)))


def errors(actual, expected):
    """(max-abs, max-rel) error of `actual` against `expected`; rel skips exact zeros of expected."""
    a = np.asarray(actual, np.float64)
    e = np.asarray(expected, np.float64)
    diff = np.abs(a - e)
    max_abs = float(diff.max()) if diff.size else 0.0
    nonzero = np.abs(e) > 0
    max_rel = float((diff[nonzero] / np.abs(e[nonzero])).max()) if nonzero.any() else 0.0
    return max_abs, max_rel


def assert_close(actual, expected, rtol=1e-5, atol=1e-6, what="output"):
    """Elementwise |a - e| <= atol + rtol * |e| (NaN matches NaN); prints the error figures."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != expected {expected.shape}"
    max_abs, max_rel = errors(actual, expected)
    print(f"{what}: max-abs {max_abs:.3g} max-rel {max_rel:.3g}")
    if actual.dtype == np.bool_ or np.issubdtype(actual.dtype, np.integer):
        assert np.array_equal(actual, expected), f"{what}: integer/bool results differ"
        return
    assert np.allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True), \
        f"{what}: max-abs {max_abs:.3g} max-rel {max_rel:.3g} exceed rtol {rtol} atol {atol}"
