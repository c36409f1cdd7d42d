"""MaxPool's second output, Indices: the flat index into X of each window's first maximum (row-major, or
column-major within the spatial plane with storage_order = 1), compared with a float64 numpy reference and
onnxruntime."""
import itertools
import os
import subprocess
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from linconv_helpers import SSMC, CompiledModel


def maxpool_model(x_shape, attrs, elem=TensorProto.FLOAT):
    node = helper.make_node("MaxPool", ["x"], ["y", "i"], **attrs)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", elem, x_shape)],
        [helper.make_tensor_value_info("y", elem, None), helper.make_tensor_value_info("i", TensorProto.INT64, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    model.ir_version = 9
    return model


def reference(x, ks, strides, pads, dilations, ceil_mode, storage_order):
    """Loops over every window; the first strictly greater value wins."""
    spatial = x.shape[2:]
    n = len(spatial)
    outs = []
    for d in range(n):
        span = (ks[d] - 1) * dilations[d] + 1
        total = spatial[d] + pads[d] + pads[d + n] - span
        o = (-(-total // strides[d]) if ceil_mode else total // strides[d]) + 1
        if ceil_mode and (o - 1) * strides[d] >= spatial[d] + pads[d]:
            o -= 1
        outs.append(o)
    y = np.zeros(x.shape[:2] + tuple(outs), dtype=np.float64)
    idx = np.full(y.shape, -1, dtype=np.int64)
    plane = int(np.prod(spatial))
    if storage_order:
        strides_in = [int(np.prod(spatial[:d])) for d in range(n)]
    else:
        strides_in = [int(np.prod(spatial[d + 1:])) for d in range(n)]
    for b, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        for o in itertools.product(*[range(v) for v in outs]):
            best, where = None, -1
            for kpos in itertools.product(*[range(k) for k in ks]):
                coords = [o[d] * strides[d] + kpos[d] * dilations[d] - pads[d] for d in range(n)]
                if any(cd < 0 or cd >= spatial[d] for d, cd in enumerate(coords)):
                    continue
                v = float(x[(b, c) + tuple(coords)])
                if best is None or v > best:
                    best = v
                    where = (b * x.shape[1] + c) * plane + sum(cd * s for cd, s in zip(coords, strides_in))
            y[(b, c) + o] = best
            idx[(b, c) + o] = where
    return y, idx


def run_ssmc(model, x):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.onnx")
        onnx.save(model, path)
        lib = os.path.join(d, "libm.so")
        r = subprocess.run([SSMC, "compile", path, "-o", lib], capture_output=True, text=True)
        assert r.returncode == 0, f"ssmc compile failed:\n{r.stdout}\n{r.stderr}"
        return CompiledModel(lib).run(x)


CASES = [
    ((1, 2, 6, 7), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    ((2, 3, 5, 5), dict(kernel_shape=[2, 2])),
    ((1, 2, 7, 6), dict(kernel_shape=[3, 2], strides=[2, 1], pads=[0, 1, 2, 0], storage_order=1)),
    ((1, 1, 8, 8), dict(kernel_shape=[2, 3], dilations=[2, 2], pads=[1, 1, 1, 1])),
    ((1, 2, 7, 7), dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    ((2, 3, 11), dict(kernel_shape=[3], strides=[2], pads=[1, 1])),
    ((1, 2, 4, 5, 6), dict(kernel_shape=[2, 2, 3], strides=[2, 1, 2], pads=[0, 1, 1, 1, 0, 1])),
    ((1, 2, 4, 5, 6), dict(kernel_shape=[2, 3, 2], strides=[1, 2, 2], storage_order=1)),
    ((1, 1, 5, 5), dict(kernel_shape=[3, 3], auto_pad="SAME_UPPER", strides=[2, 2])),
]


def resolved_pads(x_shape, attrs):
    n = len(x_shape) - 2
    ks, strides = attrs["kernel_shape"], attrs.get("strides", [1] * n)
    if attrs.get("auto_pad", "NOTSET") in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0] * (2 * n)
        for d in range(n):
            out = -(-x_shape[2 + d] // strides[d])
            total = max(0, (out - 1) * strides[d] + ks[d] - x_shape[2 + d])
            small = total // 2
            pads[d], pads[d + n] = (small, total - small) if attrs["auto_pad"] == "SAME_UPPER" else (total - small, small)
        return pads
    return attrs.get("pads", [0] * (2 * n))


@pytest.mark.parametrize("x_shape,attrs", CASES)
def test_maxpool_indices(x_shape, attrs):
    rng = np.random.default_rng(7)
    # A permutation: all values distinct, so the maximum of every window is unique.
    x = rng.permutation(np.prod(x_shape)).reshape(x_shape).astype(np.float32) / 7
    n = len(x_shape) - 2
    y_ref, i_ref = reference(
        x, attrs["kernel_shape"], attrs.get("strides", [1] * n), resolved_pads(x_shape, attrs),
        attrs.get("dilations", [1] * n), attrs.get("ceil_mode", 0), attrs.get("storage_order", 0))
    y, i = run_ssmc(maxpool_model(x_shape, attrs), x)
    assert i.dtype == np.int64
    np.testing.assert_array_equal(y, y_ref.astype(np.float32))
    np.testing.assert_array_equal(i, i_ref)
    # onnxruntime agrees where it implements the case (its Indices support covers 1-3 spatial dims).
    session = ort.InferenceSession(maxpool_model(x_shape, attrs).SerializeToString(), providers=["CPUExecutionProvider"])
    y_ort, i_ort = session.run(None, {"x": x})
    np.testing.assert_array_equal(y, y_ort)
    np.testing.assert_array_equal(i, i_ort)


def test_maxpool_indices_first_maximum_wins_ties():
    x = np.array([[[[1, 3, 3, 0], [3, 2, 1, 3], [0, 0, 0, 0], [-1, -1, -2, -1]]]], dtype=np.float32)
    attrs = dict(kernel_shape=[2, 2], strides=[1, 1])
    y_ref, i_ref = reference(x, [2, 2], [1, 1], [0, 0, 0, 0], [1, 1], 0, 0)
    y, i = run_ssmc(maxpool_model(x.shape, attrs), x)
    np.testing.assert_array_equal(y, y_ref.astype(np.float32))
    np.testing.assert_array_equal(i, i_ref)


def test_maxpool_indices_all_negative_infinity():
    # No value beats the starting point: the index still names the window's first position inside X.
    x = np.full((1, 1, 3, 3), -np.inf, dtype=np.float32)
    y, i = run_ssmc(maxpool_model(x.shape, dict(kernel_shape=[2, 2], pads=[1, 1, 0, 0])), x)
    _, i_ref = reference(x, [2, 2], [1, 1], [1, 1, 0, 0], [1, 1], 0, 0)
    assert np.all(np.isneginf(y))
    np.testing.assert_array_equal(i, i_ref)


def test_maxpool_indices_float64():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 3, 6, 6))
    attrs = dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    y_ref, i_ref = reference(x, [3, 3], [2, 2], [1, 1, 1, 1], [1, 1], 0, 0)
    y, i = run_ssmc(maxpool_model(x.shape, attrs, TensorProto.DOUBLE), x)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(i, i_ref)
