"""Helpers shared by test_quantization.py and test_quantized_products.py: one-node models, references."""
import itertools

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh
from onnx.reference import ReferenceEvaluator

from ssmc_testing import compile_model

RNG = np.random.default_rng(23)
ONNX_TYPE = {np.float32: T.FLOAT, np.uint8: T.UINT8, np.int8: T.INT8, np.int32: T.INT32}
RANGE = {np.uint8: (0, 255), np.int8: (-128, 127)}


def one_node(op, inputs, outputs=("y",), opset=21, inits=(), **attrs):
    """A model with one `op` node; `inputs` maps names to arrays (graph inputs), `inits` are (name, array)."""
    infos = [h.make_tensor_value_info(n, ONNX_TYPE[a.dtype.type], a.shape) for n, a in inputs.items()]
    names = list(inputs) + [n for n, _ in inits]
    node = h.make_node(op, names, list(outputs), **attrs)
    graph = h.make_graph([node], "q", infos, [h.make_empty_tensor_value_info(o) for o in outputs],
                         [nh.from_array(a, n) for n, a in inits])
    # Output types from ONNX's own shape inference (onnxruntime needs them declared).
    return onnx.shape_inference.infer_shapes(h.make_model(graph, opset_imports=[h.make_opsetid("", opset)]))


def run(model, tmp_path, inputs, threads=0):
    return compile_model(model, tmp_path, threads=threads).run(*inputs.values())


def reference(model, inputs):
    return ReferenceEvaluator(model).run(None, inputs)


def quantize_f32(x, scale, zero, dtype):
    """The spec with f32 division: saturate(rint(x / scale) + zero_point)."""
    q = np.rint((x / scale).astype(np.float32)).astype(np.float64) + zero
    return np.clip(q, *RANGE[dtype]).astype(dtype)


def subdir(tmp_path, name):
    d = tmp_path / name
    d.mkdir(exist_ok=True)
    return d


def integer(dtype, shape):
    return RNG.integers(*RANGE[dtype], shape, endpoint=True).astype(dtype)


def qlinear_reference(acc, multiplier, zero, dtype):
    """The ONNX reference's requantization: the multiplier in f32, acc * multiplier + zero in f64."""
    return np.clip(np.rint(acc * multiplier.astype(np.float64) + zero), *RANGE[dtype]).astype(dtype)


def conv_reference(x, w, group=1, strides=None, dilations=None, pads=None):
    """Direct N-d convolution of int64 arrays (x already minus its zero point; padding contributes 0)."""
    n = x.ndim - 2
    strides, dilations, pads = strides or [1] * n, dilations or [1] * n, pads or [0] * (2 * n)
    x = np.pad(x, [(0, 0), (0, 0)] + [(pads[i], pads[i + n]) for i in range(n)])
    kernel = w.shape[2:]
    out = [(x.shape[2 + i] - ((kernel[i] - 1) * dilations[i] + 1)) // strides[i] + 1 for i in range(n)]
    y = np.zeros((x.shape[0], w.shape[0], *out), np.int64)
    cg, mg = x.shape[1] // group, w.shape[0] // group
    for g in range(group):
        xs, ws = x[:, g * cg:(g + 1) * cg], w[g * mg:(g + 1) * mg]
        for q in itertools.product(*[range(k) for k in kernel]):
            idx = tuple(slice(q[i] * dilations[i], q[i] * dilations[i] + (out[i] - 1) * strides[i] + 1, strides[i]) for i in range(n))
            patch = xs[(slice(None), slice(None)) + idx]
            y[:, g * mg:(g + 1) * mg] += np.einsum("nc...,mc->nm...", patch, ws[(slice(None), slice(None)) + q])
    return y
