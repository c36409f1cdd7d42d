"""Conv, ConvTranspose and the pools compiled by ssmc vs onnxruntime and numpy float64 (run with SSMC=path/to/ssmc)."""
import itertools

import numpy as np
import pytest

from linconv_helpers import check

rng = np.random.default_rng(11)


def rand(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def resolve_pads(in_sp, ks, strides, dilations, pads, auto_pad):
    nd = len(in_sp)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for i in range(nd):
            out = -(-in_sp[i] // strides[i])
            total = max(0, (out - 1) * strides[i] + (ks[i] - 1) * dilations[i] + 1 - in_sp[i])
            small, big = total // 2, total - total // 2
            begin.append(small if auto_pad == "SAME_UPPER" else big)
            end.append(big if auto_pad == "SAME_UPPER" else small)
        return begin + end
    if auto_pad == "VALID":
        return [0] * (2 * nd)
    return pads or [0] * (2 * nd)


def conv_ref(x, w, b, strides, pads, dilations, group):
    x, w = x.astype(np.float64), w.astype(np.float64)
    nd = x.ndim - 2
    ks = w.shape[2:]
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pads[i], pads[i + nd]) for i in range(nd)])
    out_sp = [(xp.shape[2 + i] - ((ks[i] - 1) * dilations[i] + 1)) // strides[i] + 1 for i in range(nd)]
    m, cg = w.shape[0], w.shape[1]
    mg = m // group
    y = np.zeros((x.shape[0], m, *out_sp))
    for g in range(group):
        for kpos in itertools.product(*[range(k) for k in ks]):
            sl = tuple(slice(kpos[i] * dilations[i], kpos[i] * dilations[i] + (out_sp[i] - 1) * strides[i] + 1, strides[i])
                       for i in range(nd))
            xs = xp[(slice(None), slice(g * cg, (g + 1) * cg)) + sl]
            ws = w[(slice(g * mg, (g + 1) * mg), slice(None)) + kpos]
            y[:, g * mg:(g + 1) * mg] += np.einsum("nc...,mc->nm...", xs, ws)
    if b is not None:
        y += b.astype(np.float64).reshape(1, -1, *[1] * nd)
    return y


CONV_CASES = [
    # x shape, w shape, attrs, bias
    ((1, 3, 10, 11), (8, 3, 3, 3), {"pads": [1, 1, 1, 1]}, True),
    ((2, 5, 13, 9), (7, 5, 3, 2), {"strides": [2, 1], "dilations": [2, 1], "pads": [0, 1, 2, 1]}, False),
    ((2, 4, 9, 9), (6, 2, 3, 3), {"group": 2, "pads": [1, 1, 1, 1]}, True),
    ((1, 8, 12, 13), (8, 1, 3, 3), {"group": 8, "pads": [1, 1, 1, 1]}, True),
    ((1, 9, 14, 15), (9, 1, 7, 7), {"group": 9, "pads": [3, 3, 3, 3]}, True),
    ((2, 6, 11, 10), (6, 1, 3, 3), {"group": 6, "strides": [2, 2], "pads": [1, 0, 1, 2]}, False),
    ((1, 8, 10, 10), (16, 1, 3, 3), {"group": 8, "pads": [1, 1, 1, 1]}, True),
    ((1, 4, 5, 150), (4, 1, 3, 3), {"group": 4, "pads": [1, 1, 1, 1], "strides": [2, 1], "dilations": [1, 2]}, True),
    ((2, 3, 70), (3, 1, 7), {"group": 3, "pads": [3, 3]}, False),
    ((1, 3, 32, 32), (16, 3, 4, 4), {"strides": [4, 4]}, True),
    ((1, 16, 7, 7), (24, 16, 1, 1), {}, True),
    ((1, 6, 9, 11), (8, 6, 3, 1), {"pads": [1, 0, 1, 0]}, True),
    ((1, 6, 9, 11), (8, 6, 3, 1), {"dilations": [2, 1]}, False),
    ((1, 32, 50), (48, 8, 1), {"group": 4}, False),
    ((1, 40, 19, 21), (70, 40, 3, 3), {"pads": [1, 1, 1, 1]}, True),
    ((2, 16, 9, 9), (24, 4, 3, 3), {"group": 4, "pads": [0, 1, 1, 0], "strides": [2, 1]}, True),
    ((1, 5, 9, 11), (4, 5, 3, 3), {"auto_pad": "SAME_UPPER", "strides": [2, 2]}, True),
    ((1, 5, 9, 11), (4, 5, 2, 4), {"auto_pad": "SAME_LOWER"}, False),
    ((1, 5, 9, 11), (4, 5, 3, 3), {"auto_pad": "VALID", "strides": [2, 3]}, True),
    ((2, 5, 17), (4, 5, 3), {"pads": [1, 1]}, True),
    ((1, 6, 30), (6, 1, 5), {"group": 6, "pads": [2, 2]}, True),
    ((1, 12, 40), (12, 1, 40), {"group": 12, "pads": [20, 19]}, False),
    ((1, 2, 5, 6, 7), (3, 2, 2, 3, 2), {"pads": [1, 0, 1, 0, 1, 1], "strides": [1, 2, 1]}, True),
    ((1, 4, 5, 6, 7), (4, 1, 3, 3, 3), {"group": 4, "pads": [1] * 6}, True),
]


@pytest.mark.parametrize("x_shape,w_shape,attrs,bias", CONV_CASES)
@pytest.mark.parametrize("w_const", [True, False])
def test_conv(x_shape, w_shape, attrs, bias, w_const):
    x, w = rand(*x_shape), rand(*w_shape)
    b = rand(w_shape[0]) if bias else None
    nd = len(x_shape) - 2
    strides = attrs.get("strides", [1] * nd)
    dilations = attrs.get("dilations", [1] * nd)
    pads = resolve_pads(x_shape[2:], w_shape[2:], strides, dilations, attrs.get("pads"), attrs.get("auto_pad", "NOTSET"))
    ref = conv_ref(x, w, b, strides, pads, dilations, attrs.get("group", 1))
    inputs = [x, w] + ([b] if bias else [])
    consts = (1, 2) if w_const else ()
    check("Conv", inputs, attrs, constants=tuple(i for i in consts if i < len(inputs)), reference=ref,
          label=f"x{x_shape} w{w_shape} {attrs}")


@pytest.mark.parametrize("cpu", ["x86-64-v3", "x86-64"])
@pytest.mark.parametrize("x_shape,w_shape,attrs", [
    ((1, 6, 13, 21), (6, 1, 3, 3), {"group": 6, "pads": [1, 1, 1, 1]}),
    ((1, 5, 11, 13), (9, 5, 3, 3), {"pads": [1, 1, 1, 1]}),
    ((1, 5, 11, 13), (9, 5, 2, 2), {"strides": [2, 2]}),
])
def test_conv_other_targets(cpu, x_shape, w_shape, attrs):
    """Depthwise blocks and GEMM tiles sized for 8-lane (AVX2) and 4-lane (SSE) vectors."""
    x, w, b = rand(*x_shape), rand(*w_shape), rand(w_shape[0])
    nd = len(x_shape) - 2
    pads = attrs.get("pads", [0] * (2 * nd))
    ref = conv_ref(x, w, b, attrs.get("strides", [1] * nd), pads, [1] * nd, attrs.get("group", 1))
    check("Conv", [x, w, b], attrs, constants=(1, 2), reference=ref, label=f"{cpu} x{x_shape} w{w_shape}",
          compile_args=("--target-cpu", cpu))


CONV_TRANSPOSE_CASES = [
    ((1, 3, 5, 6), (3, 4, 3, 3), {}, True),
    ((2, 4, 5, 5), (4, 3, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]}, False),
    ((1, 4, 4, 6), (4, 2, 2, 3), {"group": 2, "strides": [2, 1], "dilations": [1, 2]}, True),
    ((1, 2, 7), (2, 3, 4), {"strides": [3], "auto_pad": "SAME_UPPER"}, True),
    ((1, 3, 4, 4), (3, 2, 3, 3), {"strides": [2, 2], "output_shape": [8, 9]}, False),
]


@pytest.mark.parametrize("x_shape,w_shape,attrs,bias", CONV_TRANSPOSE_CASES)
def test_conv_transpose(x_shape, w_shape, attrs, bias):
    x, w = rand(*x_shape), rand(*w_shape)
    inputs = [x, w] + ([rand(w_shape[1] * attrs.get("group", 1))] if bias else [])
    check("ConvTranspose", inputs, attrs, constants=(1, 2), label=f"x{x_shape} w{w_shape} {attrs}")


def pool_ref(x, kind, ks, strides, pads, dilations, ceil_mode, count_include_pad):
    x = x.astype(np.float64)
    nd = len(ks)
    out, extra = [], []
    for i in range(nd):
        size = x.shape[2 + i]
        ek = (ks[i] - 1) * dilations[i] + 1
        span = size + pads[i] + pads[i + nd] - ek
        o = (-(-span // strides[i]) if ceil_mode else span // strides[i]) + 1
        if ceil_mode and (o - 1) * strides[i] >= size + pads[i]:
            o -= 1
        out.append(o)
        extra.append(max(0, (o - 1) * strides[i] + ek - (size + pads[i] + pads[i + nd])))
    fill = 0.0 if (kind == "avg" and count_include_pad) else np.nan
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pads[i], pads[i + nd]) for i in range(nd)], constant_values=fill)
    xp = np.pad(xp, [(0, 0), (0, 0)] + [(0, e) for e in extra], constant_values=np.nan)
    windows = []
    for kpos in itertools.product(*[range(k) for k in ks]):
        sl = tuple(slice(kpos[i] * dilations[i], kpos[i] * dilations[i] + (out[i] - 1) * strides[i] + 1, strides[i])
                   for i in range(nd))
        windows.append(xp[(slice(None), slice(None)) + sl])
    stack = np.stack(windows)
    return np.nanmax(stack, axis=0) if kind == "max" else np.nanmean(stack, axis=0)


POOL_CASES = [
    ((1, 3, 10, 11), {"kernel_shape": [3, 3]}),
    ((2, 4, 9, 10), {"kernel_shape": [3, 2], "strides": [2, 2], "pads": [1, 0, 1, 1]}),
    ((1, 2, 9, 10), {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1}),
    ((1, 2, 8, 8), {"kernel_shape": [2, 2], "strides": [2, 2]}),
    ((1, 3, 11, 12), {"kernel_shape": [3, 3], "strides": [3, 3], "ceil_mode": 1}),
    ((2, 3, 20), {"kernel_shape": [4], "strides": [3], "pads": [2, 1]}),
    ((1, 2, 6, 7, 5), {"kernel_shape": [2, 3, 2], "strides": [1, 2, 2], "pads": [0, 1, 1, 1, 1, 0]}),
    ((1, 3, 9, 9), {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER", "strides": [2, 2]}),
]


@pytest.mark.parametrize("x_shape,attrs", POOL_CASES)
@pytest.mark.parametrize("kind,extra", [("max", {}), ("avg", {}), ("avg", {"count_include_pad": 1}),
                                        ("max", {"dilations": "2"})])
def test_pool(x_shape, attrs, kind, extra):
    x = rand(*x_shape)
    attrs = dict(attrs, **extra)
    nd = len(x_shape) - 2
    if attrs.get("dilations") == "2":
        attrs["dilations"] = [2] * nd
    ks = attrs["kernel_shape"]
    strides = attrs.get("strides", [1] * nd)
    dilations = attrs.get("dilations", [1] * nd)
    pads = resolve_pads(x_shape[2:], ks, strides, dilations, attrs.get("pads"), attrs.get("auto_pad", "NOTSET"))
    ref = pool_ref(x, kind, ks, strides, pads, dilations, attrs.get("ceil_mode", 0), attrs.get("count_include_pad", 0))
    op = "MaxPool" if kind == "max" else "AveragePool"
    # onnxruntime ignores dilations when sizing SAME-padded pools; the ONNX spec and its reference
    # evaluator give ceil(size / stride), as ssmc does, so that case is checked against numpy alone.
    # Likewise onnxruntime counts SAME pads differently from the explicit-pad rule in AveragePool with
    # count_include_pad; the spec's rule (numpy reference) is the one checked.
    same = attrs.get("auto_pad", "NOTSET") != "NOTSET"
    ort_differs = same and (max(dilations) > 1 or (kind == "avg" and attrs.get("count_include_pad")))
    check(op, [x], attrs, reference=ref, label=f"x{x_shape} {attrs}", use_ort=not ort_differs)


@pytest.mark.parametrize("x_shape", [(1, 3, 7, 9), (2, 5, 1, 1), (1, 17, 33), (1, 4, 3, 5, 6), (2, 64, 56, 56)])
@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
def test_global_pool(x_shape, op):
    x = rand(*x_shape)
    axes = tuple(range(2, len(x_shape)))
    x64 = x.astype(np.float64)
    ref = x64.mean(axis=axes, keepdims=True) if op == "GlobalAveragePool" else x64.max(axis=axes, keepdims=True)
    check(op, [x], reference=ref, label=f"x{x_shape}")
