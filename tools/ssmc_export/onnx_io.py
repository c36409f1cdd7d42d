"""Export a torch module to ONNX with ssmc's custom ops, and compare onnxruntime with PyTorch."""
import collections
import io
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch

from . import scan_function as sf


def export(module, example, path, opset=17, dynamic_batch=False, input_name="input", output_name="output",
           dynamic_size=False):
    """Exports `module(example)` with the TorchScript exporter (the one that honours autograd
    `symbolic`s), finalizes SelectiveScan nodes, checks and saves the model. Returns the ModelProto.
    `dynamic_batch` / `dynamic_size` make the input's batch / height and width dims symbolic."""
    module.eval()
    buf = io.BytesIO()
    input_axes = ({0: "batch"} if dynamic_batch else {}) | ({2: "height", 3: "width"} if dynamic_size else {})
    dynamic_axes = {input_name: input_axes, output_name: {0: "batch"} if dynamic_batch else {}} if input_axes else None
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), buf, dynamo=False, opset_version=opset,
                          input_names=[input_name], output_names=[output_name],
                          dynamic_axes=dynamic_axes, do_constant_folding=True,
                          custom_opsets={sf.DOMAIN: 1})
    model = onnx.load_from_string(buf.getvalue())
    sf.finalize_model(model)
    model.producer_name = "ssmc-tools/export.py"
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    return model


def run_ort(model_or_path, x):
    """Runs the model's single input through onnxruntime on CPU; returns the first output."""
    data = model_or_path.SerializeToString() if isinstance(model_or_path, onnx.ModelProto) else model_or_path
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def compare(reference, got):
    """(max-abs, max-rel) with max-rel relative to the reference's max magnitude."""
    reference = np.asarray(reference, np.float64)
    got = np.asarray(got, np.float64)
    max_abs = float(np.abs(reference - got).max())
    return max_abs, max_abs / max(float(np.abs(reference).max()), 1e-30)


def op_histogram(model):
    """Counts (domain::)op_type over the main graph, nested graphs excluded."""
    c = collections.Counter((n.domain + "::" if n.domain else "") + n.op_type for n in model.graph.node)
    return dict(sorted(c.items()))


def parameter_count(model):
    return int(sum(np.prod(t.dims) for t in model.graph.initializer))
