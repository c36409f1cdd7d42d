"""Rewrites an ONNX model's `ai.ssmc::S4ND2D` nodes (docs/ops/S4ND2D.md) into plain ONNX, so onnxruntime can
run an `--s4nd-form ssm` export as a reference without torch: the kernels come from the Python float64
reference (tools/ssmc_models/s4nd_kernel.py) for the input size each node sees, in the exporter's separable
form (Pad + depthwise Conv per axis, plus D*x or a sum over the inputs for the dense stem).

    from s4nd_separable import to_separable
    plain = to_separable(onnx.load("model.onnx"), input_shape=[1, 3, 80, 48])
"""
import copy
import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ssmc_models.s4nd_kernel import axis_kernel, bidirectional_taps  # noqa: E402


def _attributes(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _input_shape(model, name):
    """The static shape of value `name` by onnx shape inference (every earlier S4ND2D already rewritten)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    for vi in list(inferred.graph.input) + list(inferred.graph.value_info) + list(inferred.graph.output):
        if vi.name == name:
            dims = [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]
            if len(dims) == 4 and all(d is not None for d in dims[1:]):
                return dims
    raise ValueError(f"cannot infer a static shape for S4ND2D input '{name}'")


def _separable_nodes(node, params, d, l_in, attrs, prefix):
    """(nodes, initializers) computing the node's output with the kernels for spatial size l_in."""
    out_ch = attrs.get("out_channels", 0)
    h = params[0][0].shape[0]
    lk = [min(li, lm) for li, lm in zip(l_in, attrs["l_max"])]
    taps = []
    for a in range(2):
        k = axis_kernel(*params[a], attrs["l_kernel"][a], lk[a])                 # (2C', H, Lk)
        t = bidirectional_taps(k, lk[a]).transpose(1, 0, 2)                     # (H, C', 2Lk): h-major
        taps.append(np.ascontiguousarray(t).reshape(-1, 1, 2 * lk[a]).astype(np.float32))
    mid = taps[0].shape[0]
    inits = [
        numpy_helper.from_array(taps[0].reshape(mid, 1, 2 * lk[0], 1), prefix + "w_h"),
        numpy_helper.from_array(taps[1].reshape(mid, 1, 1, 2 * lk[1]), prefix + "w_w"),
        numpy_helper.from_array(np.array([0, 0, lk[0] - 1, 0, 0, 0, lk[0], 0], np.int64), prefix + "pads_h"),
        numpy_helper.from_array(np.array([0, 0, 0, lk[1] - 1, 0, 0, 0, lk[1]], np.int64), prefix + "pads_w"),
    ]
    x, y = node.input[0], node.output[0]
    nodes = [
        helper.make_node("Pad", [x, prefix + "pads_h"], [prefix + "pad_h"]),
        helper.make_node("Conv", [prefix + "pad_h", prefix + "w_h"], [prefix + "conv_h"], group=h),
        helper.make_node("Pad", [prefix + "conv_h", prefix + "pads_w"], [prefix + "pad_w"]),
        helper.make_node("Conv", [prefix + "pad_w", prefix + "w_w"], [prefix + "conv_w"], group=mid),
    ]
    if out_ch:
        inits.append(numpy_helper.from_array(np.array([0, h, out_ch, l_in[0], l_in[1]], np.int64), prefix + "split"))
        inits.append(numpy_helper.from_array(np.array([1], np.int64), prefix + "axes"))
        nodes += [helper.make_node("Reshape", [prefix + "conv_w", prefix + "split"], [prefix + "split_out"]),
                  helper.make_node("ReduceSum", [prefix + "split_out", prefix + "axes"], [y], keepdims=0)]
    else:
        inits.append(numpy_helper.from_array(d.reshape(1, h, 1, 1).astype(np.float32), prefix + "d"))
        nodes += [helper.make_node("Mul", [x, prefix + "d"], [prefix + "skip"]),
                  helper.make_node("Add", [prefix + "conv_w", prefix + "skip"], [y])]
    return nodes, inits


def to_separable(model, input_shape=None):
    """A copy of `model` with every S4ND2D replaced; `input_shape` re-fixes the first graph input's shape."""
    m = copy.deepcopy(model)
    if input_shape is not None:
        dims = m.graph.input[0].type.tensor_type.shape.dim
        for dim, v in zip(dims, input_shape):
            dim.Clear()
            dim.dim_value = v
        del m.graph.value_info[:]
    inits = {i.name: i for i in m.graph.initializer}
    count = 0
    while True:
        index = next((i for i, n in enumerate(m.graph.node) if n.domain == "ai.ssmc" and n.op_type == "S4ND2D"), None)
        if index is None:
            break
        node = m.graph.node[index]
        arrays = [numpy_helper.to_array(inits[name]).astype(np.float64) for name in node.input[1:]]
        params = [arrays[0:6], arrays[6:12]]
        l_in = _input_shape(m, node.input[0])[2:]
        nodes, new_inits = _separable_nodes(node, params, arrays[12], l_in, _attributes(node), f"s4nd{count}_")
        del m.graph.node[index]
        for k, n in enumerate(nodes):
            m.graph.node.insert(index + k, n)
        m.graph.initializer.extend(new_inits)
        count += 1
    # The raw SSM parameters are now unused: drop them (onnxruntime warns about each one otherwise).
    used = {name for n in m.graph.node for name in n.input}
    live = [i for i in m.graph.initializer if i.name in used]
    del m.graph.initializer[:]
    m.graph.initializer.extend(live)
    kept = [o for o in m.opset_import if o.domain != "ai.ssmc"]
    del m.opset_import[:]
    m.opset_import.extend(kept)
    return m
