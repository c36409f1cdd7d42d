"""Writes single-node test cases for ssmc's op shape rules and folders, with the expected result types and
values computed by onnxruntime (the independent reference), except for Slice, whose
values come from a transcription of the spec text (onnxruntime treats an INT64_MAX end with a negative step as
"to the start"; the ONNX reference implementation uses numpy, which empties a negative-step slice whose start
lies before the first element where the spec clamps it to 0). Each case is a text-IR graph whose last node is
the op under test; constant operands are IR constants (and graph inputs fed with the same values in
onnxruntime), other operands are typed graph inputs fed with random data.

Usage: tools/py tools/gen-op-cases.py > Tests/SSMCIRTests/Inputs/op-cases.json
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

OPSET = 21
ELEMENT = {"float32": "f32", "float64": "f64", "int64": "i64", "int32": "i32", "bool": "bool"}
rng = np.random.default_rng(7)


class Sym:
    """A non-constant operand: only its type is known to ssmc."""

    def __init__(self, shape, dtype=np.float32):
        self.shape, self.dtype = list(shape), dtype


def element(dtype):
    return ELEMENT[np.dtype(dtype).name]


def scalar_text(v, dtype):
    if np.issubdtype(dtype, np.floating):
        s = repr(float(v))
        return s if ("." in s or "e" in s) else s + ".0"
    return str(int(v))


def type_text(shape, dtype):
    return f"{element(dtype)}[{','.join(str(d) for d in shape)}]"


def attribute_text(v):
    if isinstance(v, bool) or isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, float):
        return scalar_text(v, np.float32)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, np.ndarray):
        return f"dense<{type_text(v.shape, v.dtype)} [{', '.join(scalar_text(x, v.dtype) for x in v.ravel())}]>"
    return "[" + ", ".join(str(int(x)) for x in v) + "]"


def onnx_attribute(v):
    return helper.make_tensor("value", helper.np_dtype_to_tensor_dtype(v.dtype), v.shape, v.ravel().tolist()) if isinstance(v, np.ndarray) else v


cases = []


def slice_per_spec(data, starts, ends, axes, steps):
    """Slice exactly as the ONNX operator text says (adjust negatives, then clamp per step sign)."""
    axes = list(range(len(starts))) if axes is None else [a + data.ndim if a < 0 else a for a in axes]
    steps = [1] * len(starts) if steps is None else list(steps)
    out = data
    for start, end, axis, step in zip(starts, ends, axes, steps):
        d = data.shape[axis]
        start, end = int(start) + d if start < 0 else int(start), int(end) + d if end < 0 else int(end)
        if step > 0:
            start, end = min(max(start, 0), d), min(max(end, 0), d)
        else:
            start, end = min(max(start, 0), d - 1), min(max(end, -1), d - 1)
        out = np.take(out, list(range(start, end, int(step))), axis=axis)
    return out


def case(name, op, operands, outputs=1, **attributes):
    """Runs `op` in onnxruntime and records the case; skips it (reporting on stderr) if onnxruntime rejects it."""
    inputs, names, feeds, ir_inputs, ir_body, ir_operands = [], [], {}, [], [], []
    for i, x in enumerate(operands):
        if x is None:
            names.append("")
            ir_operands.append("none")
            continue
        n = f"in{i}"
        names.append(n)
        if isinstance(x, Sym):
            data = rng.standard_normal(x.shape).astype(x.dtype)
            ir_inputs.append(f"%{n}: {type_text(x.shape, x.dtype)}")
        else:
            data = np.asarray(x)
            values = ", ".join(scalar_text(v, data.dtype) for v in data.ravel())
            ir_body.append(f"%{n} = const {type_text(data.shape, data.dtype)} [{values}]")
        feeds[n] = data
        inputs.append(helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(data.dtype), data.shape))
        ir_operands.append(f"%{n}")
    results = [f"out{k}" for k in range(outputs)]
    node = helper.make_node(op, names, results, **{k: onnx_attribute(v) for k, v in attributes.items()})
    graph = helper.make_graph([node], name, inputs, [onnx.ValueInfoProto(name=r) for r in results])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 10
    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        got = session.run(None, feeds)
    except Exception as e:  # noqa: BLE001 - a case onnxruntime rejects is simply not recorded
        print(f"skipped {name}: {str(e)[:160]}", file=sys.stderr)
        return
    # Slice is where onnxruntime and the ONNX reference implementation each depart from the spec text in a
    # different corner; the spec text, transcribed in slice_per_spec, decides.
    if op == "Slice":
        spec = slice_per_spec(*[feeds.get(n) for n in names] + [None] * (5 - len(names)))
        if spec.shape != got[0].shape or not np.array_equal(spec, got[0]):
            print(f"note {name}: onnxruntime gives {got[0].shape}, the spec text {spec.shape}", file=sys.stderr)
        got = [spec]
    attrs = ", ".join(f"{k} = {attribute_text(v)}" for k, v in sorted(attributes.items()))
    ir_body.append(
        f"{', '.join('%' + r for r in results)} = {op}({', '.join(ir_operands)})"
        + (f" {{{attrs}}}" if attrs else "") + " : " + ", ".join("?" for _ in results))
    foldable = not any(isinstance(x, Sym) for x in operands)
    cases.append({
        "name": name,
        "inputs": ", ".join(ir_inputs),
        "body": "\n".join(ir_body),
        "types": [type_text(g.shape, g.dtype) for g in got],
        "values": [g.astype(np.float64).ravel().tolist() for g in got] if foldable else None,
    })


def ints(*v):
    return np.array(v, dtype=np.int64)


BIG = np.iinfo(np.int64).max
x57 = np.arange(35, dtype=np.int64).reshape(5, 7)
f234 = (rng.standard_normal((2, 3, 4)) * 3).astype(np.float32)

# Slice: random starts/ends/steps, including negative, out-of-range and reversed ones.
for k in range(40):
    axes = rng.permutation(2)[: rng.integers(1, 3)]
    starts = rng.integers(-9, 9, len(axes))
    ends = rng.choice([-BIG, -9, -3, -1, 0, 2, 5, 9, BIG], len(axes))
    steps = rng.choice([-3, -2, -1, 1, 2, 3], len(axes))
    if k % 4 == 0:
        axes = axes - 2  # negative axes
    case(f"slice{k}", "Slice", [x57, ints(*starts), ints(*ends), ints(*axes), ints(*steps)])
case("slice-default-axes", "Slice", [x57, ints(1), ints(-1)])

# Pad: every mode, positive pads, and cropping (negative) pads in constant mode.
for mode in ["constant", "reflect", "edge", "wrap"]:
    for k, pads in enumerate([[1, 2, 2, 1], [0, 3, 0, 0], [2, 0, 1, 4]]):
        case(f"pad-{mode}{k}", "Pad", [x57[:3, :4], ints(*pads)], mode=mode)
    case(f"pad-{mode}-axes", "Pad", [x57, ints(2, 1), None, ints(-1)], mode=mode)
case("pad-constant-value", "Pad", [x57, ints(1, 0, 0, 2), ints(-5)])
case("pad-crop", "Pad", [x57, ints(-1, 1, -2, 0)])

# Gather / GatherElements with negative indices.
case("gather0", "Gather", [x57, ints(-1, 0, 2).reshape(3, 1)])
case("gather1", "Gather", [x57, np.array([-7, 6, 3], np.int32)], axis=-1)
case("gather-scalar", "Gather", [x57, ints(2).reshape(())], axis=0)
case("gather-elements", "GatherElements", [x57, ints(0, -1, 4, 2, 1, 3).reshape(2, 3)], axis=1)

# Reductions, with axes input, keepdims and noop_with_empty_axes.
for op in ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
           "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"]:
    data = np.abs(f234) + 0.5 if op == "ReduceLogSum" else f234
    case(f"{op}-axes", op, [data, ints(0, -1)], keepdims=0)
    case(f"{op}-all", op, [data])
    case(f"{op}-noop", op, [data, ints()], noop_with_empty_axes=1)
case("reducesum-int", "ReduceSum", [x57, ints(1)])
case("reducemax-int", "ReduceMax", [x57, ints(0)], keepdims=0)
case("reduceprod-int", "ReduceProd", [ints(2, 3, 4)], keepdims=0)
ties = np.array([[1, 3, 3, 0], [2, 2, -1, -1], [5, 0, 5, 0]], np.float32)
for op in ["ArgMax", "ArgMin"]:
    for last in [0, 1]:
        case(f"{op}-{last}", op, [ties], axis=1, select_last_index=last)
        case(f"{op}-{last}-axis0", op, [ties], axis=0, keepdims=0, select_last_index=last)
for exclusive in [0, 1]:
    for reverse in [0, 1]:
        case(f"cumsum-{exclusive}{reverse}", "CumSum", [x57[:3, :4], ints(-1).reshape(())], exclusive=exclusive, reverse=reverse)
case("cumsum-axis0", "CumSum", [f234, np.array(1, np.int32)])

# Layout ops.
case("transpose", "Transpose", [f234], perm=[2, 0, 1])
case("transpose-default", "Transpose", [x57])
case("reshape", "Reshape", [f234, ints(0, -1)])
case("reshape-allowzero", "Reshape", [np.zeros((0, 3), np.float32), ints(3, 0)], allowzero=1)
case("reshape-copy", "Reshape", [f234, ints(-1, 0, 2)])
for axis in [0, 1, -1, 3]:
    case(f"flatten{axis}", "Flatten", [f234], axis=axis)
case("squeeze", "Squeeze", [np.zeros((1, 3, 1, 2), np.float32), ints(-2)])
case("squeeze-all", "Squeeze", [np.zeros((1, 3, 1, 2), np.float32)])
case("unsqueeze", "Unsqueeze", [x57, ints(-1, 0, 2)])
case("depth-to-space", "DepthToSpace", [Sym([1, 8, 2, 3])], blocksize=2, mode="CRD")
case("space-to-depth", "SpaceToDepth", [Sym([1, 2, 4, 6])], blocksize=2)

# Combining ops.
case("concat", "Concat", [x57[:, :2], x57[:, 3:], x57[:, :0]], axis=-1)
case("concat-vectors", "Concat", [ints(-1), ints(3, 64)], axis=0)
for n in [2, 3, 4]:
    case(f"split-num{n}", "Split", [x57], outputs=n, axis=1, num_outputs=n)
case("split-sizes", "Split", [x57, ints(1, 4)], outputs=2, axis=0)
case("expand", "Expand", [ints(1, 2, 3).reshape(3, 1), ints(2, 1, 4)])
case("expand-keep", "Expand", [x57, ints(1, 1)])
case("tile", "Tile", [x57[:2, :3], ints(2, 3)])

# Shape sources.
for start, end in [(0, None), (1, None), (-1, None), (0, -1), (-10, 10), (2, 1)]:
    kw = {"start": start} | ({"end": end} if end is not None else {})
    case(f"shape{start}_{end}", "Shape", [Sym([2, 3, 4])], **kw)
case("size", "Size", [Sym([2, 3, 4])])
case("range-int", "Range", [ints(10).reshape(()), ints(4).reshape(()), ints(-2).reshape(())])
case("range-float", "Range", [np.array(0.5, np.float32), np.array(2.0, np.float32), np.array(0.4, np.float32)])
case("range-empty", "Range", [ints(1).reshape(()), ints(1).reshape(()), ints(1).reshape(())])
case("constant-of-shape", "ConstantOfShape", [ints(2, 3)], value=np.array([7], np.int64))
case("constant-of-shape-default", "ConstantOfShape", [ints(4)])
case("nonzero", "NonZero", [np.array([[1, 0, 3], [0, 0, 7]], np.float32)])

# Linear algebra (shapes only).
for a, b in [([3], [3]), ([3], [3, 5]), ([2, 4, 3], [3]), ([7, 1, 3, 4], [6, 4, 5]), ([4, 3], [2, 3, 5])]:
    case(f"matmul-{len(a)}-{len(b)}", "MatMul", [Sym(a), Sym(b)])
case("gemm", "Gemm", [Sym([4, 3]), Sym([5, 4]), Sym([5])], transA=1, transB=1, alpha=0.5)
for eq, shapes in [("ij,jk->ik", [[2, 3], [3, 4]]), ("...ij,...jk", [[5, 1, 2, 3], [4, 3, 2]]), ("ii->i", [[3, 3]]),
                   ("bA", [[2, 3]]), ("abc,cd->abd", [[2, 3, 4], [4, 5]]), ("a...c->...ca", [[2, 3, 4, 5]])]:
    case(f"einsum {eq}", "Einsum", [Sym(s) for s in shapes], equation=eq)

# Convolutions and pools (shapes only), over a grid of attributes.
for k, (x, w, kw) in enumerate([
    ([1, 3, 11, 9], [4, 3, 3, 2], {"strides": [2, 3], "pads": [1, 0, 2, 1], "dilations": [1, 2]}),
    ([1, 4, 10], [4, 1, 3], {"group": 4, "auto_pad": "SAME_UPPER", "strides": [3]}),
    ([1, 4, 10], [4, 1, 4], {"group": 4, "auto_pad": "SAME_LOWER", "strides": [3]}),
    ([2, 6, 9, 9], [4, 3, 2, 2], {"auto_pad": "VALID", "strides": [2, 2], "group": 2}),
    ([1, 2, 5, 6, 7], [3, 2, 3, 1, 3], {"pads": [1, 0, 1, 1, 0, 1], "strides": [2, 1, 2]}),
]):
    case(f"conv{k}", "Conv", [Sym(x), Sym(w), Sym([w[0]])], **kw)
for k, (x, w, kw) in enumerate([
    ([1, 2, 3, 4], [2, 3, 3, 2], {"strides": [2, 3], "pads": [1, 0, 0, 1], "output_padding": [1, 2]}),
    ([1, 4, 5], [4, 2, 3], {"group": 2, "dilations": [2], "strides": [2]}),
    ([1, 1, 4, 4], [1, 1, 3, 3], {"strides": [2, 2], "auto_pad": "SAME_LOWER"}),
    ([1, 1, 3, 3], [1, 2, 3, 3], {"strides": [3, 2], "output_shape": [10, 6]}),
]):
    case(f"conv-transpose{k}", "ConvTranspose", [Sym(x), Sym(w)], **kw)
for op in ["MaxPool", "AveragePool", "LpPool"]:
    for k, kw in enumerate([
        {"kernel_shape": [3, 2], "strides": [2, 2], "pads": [1, 0, 1, 1]},
        {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1},
        {"kernel_shape": [2, 3], "strides": [3, 2], "pads": [0, 0, 1, 2], "ceil_mode": 1},
        {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"},
        {"kernel_shape": [2, 2], "dilations": [2, 1], "strides": [1, 2]},
    ]):
        case(f"{op}{k}", op, [Sym([1, 2, 10, 9])], **kw)
case("global-average", "GlobalAveragePool", [Sym([2, 3, 5, 4])])

# Random window geometry: 1-D and 2-D, every padding style, with and without ceil_mode.
for k in range(60):
    n = int(rng.integers(1, 3))
    size = [int(v) for v in rng.integers(5, 12, n)]
    kernel = [int(v) for v in rng.integers(1, 5, n)]
    kw = {"strides": [int(v) for v in rng.integers(1, 4, n)], "dilations": [int(v) for v in rng.integers(1, 3, n)]}
    style = k % 4
    if style == 0:
        kw["pads"] = [int(v) for v in rng.integers(0, 3, 2 * n)]
    elif style == 1:
        kw["auto_pad"] = "SAME_UPPER"
    elif style == 2:
        kw["auto_pad"] = "SAME_LOWER"
    else:
        kw["auto_pad"] = "VALID"
    same = kw.get("auto_pad", "").startswith("SAME")
    if k < 20:
        case(f"random-conv{k}", "Conv", [Sym([1, 2] + size), Sym([3, 2] + kernel)], **kw)
    elif k < 40:
        # onnxruntime needs pads smaller than the kernel for pools.
        if "pads" in kw:
            kw["pads"] = [min(p, kernel[i % n] - 1) for i, p in enumerate(kw["pads"])]
        if "auto_pad" not in kw:
            kw["ceil_mode"] = k % 2
        if same and any(d != 1 for d in kw["dilations"]):
            continue  # onnxruntime ignores dilations when sizing SAME pools; the spec says ceil(size / stride)
        case(f"random-pool{k}", ["MaxPool", "AveragePool"][k % 2], [Sym([1, 2] + size)], kernel_shape=kernel, **kw)
    else:
        kw["output_padding"] = [int(rng.integers(0, s)) for s in kw["strides"]]
        effective = [(kk - 1) * d + 1 for kk, d in zip(kernel, kw["dilations"])]
        if same and (any(p != 0 for p in kw["output_padding"]) or any(e < s for e, s in zip(effective, kw["strides"]))):
            continue  # onnxruntime clamps SAME padding at 0 here; the spec says size * stride
        case(f"random-conv-transpose{k}", "ConvTranspose", [Sym([1, 2] + size), Sym([2, 3] + kernel)], **kw)

json.dump({"onnxruntime": ort.__version__, "opset": OPSET, "cases": cases}, sys.stdout, indent=1)
sys.stdout.write("\n")
