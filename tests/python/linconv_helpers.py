"""Shared helpers for the linalg/conv/pool tests: build a one-node ONNX model, compile it with ssmc, run it,
and compare with onnxruntime and a float64 numpy reference."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SSMC = os.environ.get("SSMC", os.path.join(REPO, ".build", "debug", "ssmc"))
sys.path.insert(0, os.path.join(REPO, "tools"))
from ssmc_py import CompiledModel  # noqa: E402

_TYPES = {np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE, np.int64: TensorProto.INT64,
          np.int32: TensorProto.INT32}


def one_node_model(op, inputs, attrs=None, constants=(), opset=21, out_type=None):
    """A model with one node `op`. `inputs` is a list of numpy arrays (or None for an absent optional input);
    those whose index is in `constants` become initializers, the rest graph inputs."""
    names, graph_inputs, inits = [], [], []
    for i, a in enumerate(inputs):
        if a is None:
            names.append("")
            continue
        name = f"in{i}"
        names.append(name)
        if i in constants:
            inits.append(numpy_helper.from_array(a, name))
        else:
            graph_inputs.append(helper.make_tensor_value_info(name, _TYPES[a.dtype.type], a.shape))
    elem = out_type or _TYPES[next(a for a in inputs if a is not None).dtype.type]
    node = helper.make_node(op, names, ["y"], **(attrs or {}))
    graph = helper.make_graph([node], "g", graph_inputs, [helper.make_tensor_value_info("y", elem, None)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    return model


def run_ssmc(model, feeds, extra_args=()):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.onnx")
        onnx.save(model, path)
        lib = os.path.join(d, "libm.so")
        r = subprocess.run([SSMC, "compile", path, "-o", lib, *extra_args], capture_output=True, text=True)
        assert r.returncode == 0, f"ssmc compile failed:\n{r.stdout}\n{r.stderr}"
        return CompiledModel(lib).run(*feeds)[0]


def run_ort(model, feeds):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, dict(zip(names, feeds)))[0]


def errors(got, ref):
    """(max-abs error, max-abs error relative to the reference's largest magnitude)."""
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    assert got.shape == ref.shape, f"shape {got.shape} != {ref.shape}"
    if got.size == 0:
        return 0.0, 0.0
    err = float(np.max(np.abs(got - ref)))
    return err, err / max(float(np.max(np.abs(ref))), 1e-30)


def check(op, inputs, attrs=None, constants=(), reference=None, rel=2e-5, ort_rel=2e-5, opset=21, label="", use_ort=True, compile_args=()):
    """Compiles and runs the node, compares with onnxruntime (unless `use_ort` is false, for cases where
    onnxruntime departs from the ONNX spec) and (if given) the float64 `reference`."""
    model = one_node_model(op, inputs, attrs, constants, opset)
    feeds = [a for i, a in enumerate(inputs) if a is not None and i not in constants]
    got = run_ssmc(model, feeds, compile_args)
    if not use_ort:
        abs_ref, rel_ref = errors(got, reference)
        report = f"{op} {label}: vs numpy float64 max-abs {abs_ref:.3g} max-rel {rel_ref:.3g}"
        assert rel_ref <= rel, report
        print(report)
        return got
    expected = run_ort(model, feeds)
    abs_ort, rel_ort = errors(got, expected)
    report = f"{op} {label}: vs onnxruntime max-abs {abs_ort:.3g} max-rel {rel_ort:.3g}"
    assert got.dtype == expected.dtype
    if np.issubdtype(got.dtype, np.integer):
        assert np.array_equal(got, expected), report
    else:
        assert rel_ort <= ort_rel, report
    if reference is not None:
        abs_ref, rel_ref = errors(got, reference)
        report += f"; vs numpy float64 max-abs {abs_ref:.3g} max-rel {rel_ref:.3g}"
        assert rel_ref <= rel, report
    print(report)
    return got
