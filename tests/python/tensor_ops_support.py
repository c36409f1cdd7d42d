"""Builds one-node ONNX models, compiles them with ssmc and runs them, for the op tests of this folder.

The ssmc binary is taken from the environment variable SSMC (default .build/debug/ssmc in the repository).
References come from onnxruntime or numpy float64, never from ssmc.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from ssmc_py import CompiledModel  # noqa: E402

SSMC = os.environ.get("SSMC", str(ROOT / ".build" / "debug" / "ssmc"))
_TYPES = {np.dtype(np.float32): onnx.TensorProto.FLOAT, np.dtype(np.int64): onnx.TensorProto.INT64,
          np.dtype(np.int32): onnx.TensorProto.INT32, np.dtype(np.bool_): onnx.TensorProto.BOOL,
          np.dtype(np.float64): onnx.TensorProto.DOUBLE, np.dtype(np.int8): onnx.TensorProto.INT8,
          np.dtype(np.uint8): onnx.TensorProto.UINT8}


def make_model(op, inputs, constants=None, attrs=None, outputs=1, opset=21, domain="", order=None):
    """A model with one `op` node. `inputs` and `constants` map names to arrays (constants become
    initializers; a None value is an absent optional input); operand order is inputs then constants
    unless `order` lists the names."""
    constants = constants or {}
    order = order or list(inputs) + list(constants)
    names = ["" if (n in constants and constants[n] is None) else n for n in order]
    out_names = [f"out{i}" for i in range(outputs)]
    node = helper.make_node(op, names, out_names, domain=domain, **(attrs or {}))
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(n, _TYPES[a.dtype], a.shape) for n, a in inputs.items()],
        [helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None) for n in out_names],
        [numpy_helper.from_array(np.asarray(a), n) for n, a in constants.items() if a is not None])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9  # onnxruntime 1.31 rejects the IR version onnx 1.23 writes by default
    model = onnx.shape_inference.infer_shapes(model)
    return model


def compile_model(model, extra=()):
    """Compiles `model` with ssmc; returns the loaded library."""
    work = tempfile.mkdtemp(prefix="ssmc-test-")
    path = os.path.join(work, "m.onnx")
    onnx.save(model, path)
    lib = os.path.join(work, "libm.so")
    proc = subprocess.run([SSMC, "compile", path, "-o", lib, *extra], capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"ssmc compile failed:\n{proc.stderr}{proc.stdout}")
    return CompiledModel(lib)


def run_ssmc(model, inputs, threads=0, extra=()):
    compiled = compile_model(model, extra)
    if threads:
        compiled._lib.ssmc_set_num_threads(compiled._ctx, threads)
    return compiled.run(*inputs.values())


def run_ort(model, inputs):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


def check(model, inputs, expected=None, rtol=1e-5, atol=1e-6, threads=0):
    """Runs `model` in ssmc and compares each output with `expected` (default: onnxruntime's)."""
    got = run_ssmc(model, inputs, threads)
    want = expected if expected is not None else run_ort(model, inputs)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        w = np.asarray(w)
        assert g.shape == w.shape, f"shape {g.shape} != {w.shape}"
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)
        else:
            assert g.dtype == w.dtype, f"dtype {g.dtype} != {w.dtype}"
            np.testing.assert_array_equal(g, w)
    return got
