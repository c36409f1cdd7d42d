"""Shape inference over symbolic input dims: the output types `ssmc inspect` infers, as expressions of the input
dims, must give onnxruntime's output shapes at every concrete size tried."""
import os
import re
import subprocess

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from ssmc_testing import SSMC, run_onnxruntime, save

MODELS = os.path.join(os.path.dirname(__file__), "..", "..", "models")
SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 16, 31, 33]


def inferred_outputs(path):
    """{output name: [dim text, ...]} from `ssmc inspect`'s inferred output types."""
    result = subprocess.run([SSMC, "inspect", path], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("inferred output types:\n", 1)[1].splitlines()
    types = {}
    for line in lines:
        match = re.fullmatch(r"  (\S+): \w+\[(.*)\]", line)
        if not match:
            break
        types[match.group(1)] = split_dims(match.group(2))
    assert types, result.stdout
    return types


def split_dims(text):
    """Dims separated by top-level commas (min(a, b) holds one)."""
    dims, depth, current = [], 0, ""
    for c in text:
        if c == "," and depth == 0:
            dims.append(current)
            current = ""
            continue
        depth += (c == "(") - (c == ")")
        current += c
    return dims + ([current] if current else [])


def evaluate(dim, symbols):
    """A dim's value: `/` is floor division, as in Python's `//`. A leading minus negates the whole term
    (`-(H + 2)/3` is -floor((H + 2)/3)), so it becomes a subtraction, which binds looser than `//`."""
    dim = re.sub(r"(^|\(|, )-", r"\g<1>0 - ", dim)
    return eval(dim.replace("/", "//"), {"__builtins__": {}, "min": min, "max": max}, dict(symbols))


def graph_model(nodes, initializers, input_dims, output, opset=19):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, input_dims)
    y = helper.make_tensor_value_info(output, TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def const(name, values, dtype=np.int64):
    return onnx.numpy_helper.from_array(np.array(values, dtype=dtype), name)


def zeros(name, shape):
    return onnx.numpy_helper.from_array(np.zeros(shape, np.float32), name)


N = helper.make_node
CASES = {
    # Two strided convolutions and a ceil-mode pool (the stem of a vision model).
    "conv_stem": (
        [
            N("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]),
            N("Conv", ["c1", "w2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2]),
            N("MaxPool", ["c2"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2], ceil_mode=1),
        ],
        [zeros("w1", [4, 3, 3, 3]), zeros("w2", [4, 4, 3, 3])],
        ["batch", 3, "H", "W"],
    ),
    # SAME padding with stride 3 and a dilated valid pool.
    "same_and_dilated": (
        [
            N("Conv", ["x", "w"], ["c"], auto_pad="SAME_UPPER", strides=[3, 3]),
            N("AveragePool", ["c"], ["y"], kernel_shape=[2, 2], dilations=[2, 2], pads=[0, 1, 1, 0]),
        ],
        [zeros("w", [2, 3, 3, 3])],
        ["batch", 3, "H", "W"],
    ),
    # Flatten the spatial dims to tokens with shape math, drop the first token, add a class token.
    "tokens": (
        [
            N("Shape", ["x"], ["s"]),
            N("Slice", ["s", "zero", "two"], ["lead"]),
            N("Concat", ["lead", "minus_one"], ["target"], axis=0),
            N("Reshape", ["x", "target"], ["flat"]),
            N("Transpose", ["flat"], ["tokens"], perm=[0, 2, 1]),
            N("Slice", ["tokens", "one", "big", "one"], ["rest"]),
            N("Concat", ["rest", "rest"], ["y"], axis=1),
        ],
        [const("zero", [0]), const("two", [2]), const("minus_one", [-1]), const("one", [1]), const("big", [2**63 - 1])],
        ["batch", 8, "H", "W"],
    ),
    # Head and strided slices of a symbolic dim, then the middle half computed from its Shape.
    "slices": (
        [
            N("Slice", ["x", "zero", "four", "two"], ["head"]),
            N("Slice", ["head", "minus_two", "big", "three", "steps"], ["y1"]),
            N("Shape", ["y1"], ["s"]),
            N("Gather", ["s", "three_scalar"], ["w"]),
            N("Div", ["w", "two_scalar"], ["half"]),
            N("Unsqueeze", ["half", "zero"], ["end"]),
            N("Slice", ["y1", "zero", "end", "three"], ["y"]),
        ],
        [const("zero", [0]), const("four", [4]), const("two", [2]), const("three", [3]), const("minus_two", [-2]),
         const("big", [2**63 - 1]), const("steps", [1]), const("three_scalar", 3), const("two_scalar", 2)],
        ["batch", 3, "H", "W"],
    ),
    # Constant pads on symbolic dims (H + 3), and padding W up to a multiple of 4 with pads computed from its
    # Shape, as windowed vision models do: (4 - W % 4) % 4.
    "pads": (
        [
            N("Pad", ["x", "pads"], ["p"]),
            N("Shape", ["p"], ["s"]),
            N("Gather", ["s", "three_scalar"], ["w"]),
            N("Mod", ["w", "four"], ["r"]),
            N("Sub", ["four", "r"], ["gap"]),
            N("Mod", ["gap", "four"], ["extra"]),
            N("Unsqueeze", ["extra", "zero"], ["extra1"]),
            N("Concat", ["zeros7", "extra1"], ["pads2"], axis=0),
            N("Pad", ["p", "pads2"], ["y"], mode="edge"),
        ],
        [const("pads", [0, 0, 1, -1, 0, 0, 2, 3]), const("three_scalar", 3), const("four", 4), const("zero", [0]),
         const("zeros7", [0] * 7)],
        ["batch", 3, "H", "W"],
    ),
    # Split into three chunks of ceil(H/3) (the last one smaller), then sizes computed from a Shape.
    "split": (
        [
            N("Split", ["x"], ["a", "b", "c"], axis=2, num_outputs=3),
            N("Concat", ["a", "c"], ["ac"], axis=2),
            N("Shape", ["x"], ["s"]),
            N("Slice", ["s", "two", "three"], ["h"]),
            N("Concat", ["h", "h"], ["sizes"], axis=0),
            N("Concat", ["x", "x"], ["xx"], axis=2),
            N("Split", ["xx", "sizes"], ["d", "e"], axis=2),
            N("Concat", ["ac", "e"], ["y"], axis=2),
        ],
        [const("two", [2]), const("three", [3])],
        ["batch", 3, "H", "W"],
    ),
    # Channels to blocks and back: DepthToSpace doubles H and W, SpaceToDepth halves 2*H exactly.
    "depth_space": (
        [
            N("DepthToSpace", ["x"], ["d"], blocksize=2, mode="CRD"),
            N("Conv", ["d", "w"], ["c"]),
            N("SpaceToDepth", ["c"], ["y"], blocksize=2),
        ],
        [zeros("w", [8, 3, 1, 1])],
        ["batch", 12, "H", "W"],
    ),
    # Resize by scales 2 and 0.5, then by 1.5 and 0.75, and to sizes computed from the input's Shape.
    "resize": (
        [
            N("Resize", ["x", "", "s1"], ["r1"], mode="nearest"),
            N("Resize", ["r1", "", "s2"], ["r2"], mode="linear"),
            N("Shape", ["x"], ["s"]),
            N("Slice", ["s", "two", "four"], ["hw"]),
            N("Mul", ["hw", "three"], ["hw3"]),
            N("Resize", ["r2", "", "", "hw3"], ["y"], axes=[2, 3], mode="nearest"),
        ],
        [const("s1", [1, 1, 2, 0.5], np.float32), const("s2", [1, 1, 1.5, 0.75], np.float32), const("two", [2]),
         const("four", [4]), const("three", 3)],
        ["batch", 3, "H", "W"],
    ),
    # Position indices as exporters build them: Range(0, W, 1), and a strided Range(1, H, 3); ones built by
    # ConstantOfShape from a Shape, sized by another Shape.
    "range_and_fill": (
        [
            N("Shape", ["x"], ["s"]),
            N("Gather", ["s", "three_scalar"], ["w"]),
            N("Range", ["zero_scalar", "w", "one_scalar"], ["pos"]),
            N("Gather", ["s", "two_scalar"], ["h"]),
            N("Range", ["one_scalar", "h", "three_scalar"], ["rows"]),
            N("Unsqueeze", ["rows", "one"], ["rows2"]),
            N("Mul", ["rows2", "pos"], ["grid"]),
            N("Shape", ["grid"], ["gs"]),
            N("Concat", ["gs", "one"], ["shape3"], axis=0),
            N("ConstantOfShape", ["shape3"], ["ones"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])),
            N("Cast", ["grid"], ["gridf"], to=TensorProto.FLOAT),
            N("Unsqueeze", ["gridf", "minus_one"], ["gridf3"]),
            N("Add", ["gridf3", "ones"], ["y"]),
        ],
        [const("three_scalar", 3), const("two_scalar", 2), const("zero_scalar", 0), const("one_scalar", 1),
         const("one", [1]), const("minus_one", [-1])],
        ["batch", 3, "H", "W"],
    ),
    # TopK of min(5, W) along W (k computed from the Shape), then OneHot with depth H.
    "topk_onehot": (
        [
            N("Shape", ["x"], ["s"]),
            N("Slice", ["s", "three", "four"], ["w"]),
            N("Min", ["w", "five"], ["k"]),
            N("TopK", ["x", "k"], ["values", "indices"], axis=3),
            N("Gather", ["s", "two_scalar"], ["h"]),
            N("OneHot", ["indices", "h", "off_on"], ["y"], axis=2),
        ],
        [const("three", [3]), const("four", [4]), const("five", [5]), const("two_scalar", 2),
         const("off_on", [0, 1], np.float32)],
        ["batch", 3, "H", "W"],
    ),
    # Transposed convolutions: stride 2 with pads and output_padding, then SAME_UPPER with stride 3.
    "conv_transpose": (
        [
            N("ConvTranspose", ["x", "w1"], ["t"], strides=[2, 2], pads=[1, 0, 2, 1], output_padding=[1, 0], dilations=[2, 1]),
            N("ConvTranspose", ["t", "w2"], ["y"], strides=[3, 3], auto_pad="SAME_UPPER"),
        ],
        [zeros("w1", [3, 4, 3, 3]), zeros("w2", [4, 2, 4, 4])],
        ["batch", 3, "H", "W"],
    ),
    # MaxPool with indices undone by MaxUnpool to the input's Shape (odd sizes lose a row to the pool), then
    # a crop to a box computed from that Shape.
    "unpool_crop": (
        [
            N("MaxPool", ["x"], ["p", "i"], kernel_shape=[2, 2], strides=[2, 2]),
            N("Shape", ["x"], ["s"]),
            N("MaxUnpool", ["p", "i", "s"], ["u"], kernel_shape=[2, 2], strides=[2, 2]),
            N("Slice", ["s", "two", "four"], ["hw"]),
            N("Sub", ["hw", "one"], ["box"]),
            N("CenterCropPad", ["u", "box"], ["y"], axes=[2, 3]),
        ],
        [const("two", [2]), const("four", [4]), const("one", [1])],
        ["batch", 3, "H", "W"],
    ),
    # Exporters' Expand pattern: -1 entries in the target replaced by the input's own dims through
    # Where(Equal(shape, -1), ones, shape); the target's entries come from the Shape.
    "expand_where": (
        [
            N("Shape", ["x"], ["s"]),
            N("Slice", ["s", "zero", "one"], ["b"]),
            N("Concat", ["b", "minus_one", "minus_one", "minus_one"], ["target"], axis=0),
            N("Equal", ["target", "minus_one"], ["is_free"]),
            N("Where", ["is_free", "ones", "target"], ["shape"]),
            N("Expand", ["x", "shape"], ["y"]),
        ],
        [const("zero", [0]), const("one", [1]), const("minus_one", [-1]), const("ones", [1, 1, 1, 1])],
        ["batch", 3, "H", "W"],
    ),
    # Col2Im onto an H x W image (block 2 x 2, pads 1: (H + 1)*(W + 1) block positions); the columns come
    # from padding the input by one row and column and flattening, the image size from its Shape.
    "col2im": (
        [
            N("Pad", ["x", "pads"], ["padded"]),
            N("Reshape", ["padded", "flat_shape"], ["cols"]),
            N("Shape", ["x"], ["s"]),
            N("Slice", ["s", "two", "four"], ["hw"]),
            N("Col2Im", ["cols", "hw", "block"], ["y"], pads=[1, 1, 1, 1]),
        ],
        [const("pads", [0, 0, 0, 0, 0, 0, 1, 1]), const("flat_shape", [0, 0, -1]), const("two", [2]),
         const("four", [4]), const("block", [2, 2])],
        ["batch", 12, "H", "W"],
    ),
    # A class token tiled `batch` times (repeats from the Shape) in front of the flattened input, whose
    # element count per sample is ReduceProd of the Shape's tail.
    "tile_and_count": (
        [
            N("Shape", ["x"], ["s"]),
            N("Slice", ["s", "zero", "one"], ["b"]),
            N("Concat", ["b", "one", "one", "one"], ["reps"], axis=0),
            N("Tile", ["token", "reps"], ["tokens"]),
            N("Slice", ["s", "one", "four"], ["tail"]),
            N("ReduceProd", ["tail"], ["count"], keepdims=1),
            N("Concat", ["b", "count"], ["flat_shape"], axis=0),
            N("Reshape", ["x", "flat_shape"], ["flat"]),
            N("Flatten", ["tokens"], ["tokens2"], axis=1),
            N("Concat", ["tokens2", "flat"], ["y"], axis=1),
        ],
        [const("zero", [0]), const("one", [1]), const("four", [4]), zeros("token", [1, 3, 1, 1])],
        ["batch", 3, "H", "W"],
    ),
    # The sampling grid of `affine_grid(theta, x.size())` (opset 20): size from the Shape.
    "affine_grid": (
        [
            N("Shape", ["x"], ["s"]),
            N("Slice", ["s", "zero", "one"], ["b"]),
            N("Concat", ["b", "minus_one"], ["theta_shape"], axis=0),
            N("Reshape", ["x", "theta_shape"], ["flat"]),
            N("ReduceMean", ["flat", "one"], ["m"], keepdims=1),
            N("Unsqueeze", ["m", "one"], ["m3"]),
            N("Expand", ["m3", "theta_dims"], ["theta"]),
            N("AffineGrid", ["theta", "s"], ["y"]),
        ],
        [const("zero", [0]), const("one", [1]), const("minus_one", [-1]), const("theta_dims", [1, 2, 3])],
        ["batch", 3, "H", "W"],
        20,
    ),
    # Upsample-9 by scales 2 and 3 (imported as Resize).
    "upsample": ([N("Upsample", ["x", "scales"], ["y"])], [const("scales", [1, 1, 2, 3], np.float32)], ["batch", 3, "H", "W"], 9),
    # One-sided DFT along H (H/2 + 1 bins, opset 20: the axis is an input), then a full DFT along W.
    "dft": (
        [
            N("Unsqueeze", ["x", "minus_one"], ["real"]),
            N("DFT", ["real", "", "two"], ["half"], onesided=1),
            N("DFT", ["half", "", "three"], ["y"]),
        ],
        [const("minus_one", [-1]), const("two", 2), const("three", 3)],
        ["batch", 3, "H", "W"],
        20,
    ),
    # STFT of the flattened input (3*H*W samples): frames of 4 every 2 samples, 3 one-sided bins.
    "stft": (
        [
            N("Reshape", ["x", "signal_shape"], ["signal"]),
            N("STFT", ["signal", "two", "window"], ["y"]),
        ],
        [const("signal_shape", [0, -1, 1]), const("two", 2), const("window", [1, 1, 1, 1], np.float32)],
        ["batch", 3, "H", "W"],
        17,
    ),
    # Ops whose output dims come straight from their operands': GridSample (the grid's H and W), Einsum (its
    # letters), ReduceMean with keepdims, Flatten, EyeLike and Trilu.
    "pass_through": (
        [
            N("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
            N("Slice", ["t", "zero", "two", "three"], ["grid"]),
            N("GridSample", ["x", "grid"], ["g"]),
            N("Einsum", ["g", "g"], ["e"], equation="bchw,bcgw->bhgw"),
            N("ReduceMean", ["e", "one"], ["m"], keepdims=1),
            N("Flatten", ["m"], ["f"], axis=2),
            N("EyeLike", ["f"], ["eye"], k=1),
            N("Trilu", ["eye"], ["y"], upper=0),
        ],
        [const("zero", [0]), const("two", [2]), const("three", [3]), const("one", [1])],
        ["batch", 3, "H", "W"],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_inferred_shapes_match_onnxruntime(name, tmp_path):
    nodes, initializers, input_dims, *opset = CASES[name]
    model = graph_model(nodes, initializers, input_dims, "y", *opset)
    dims = inferred_outputs(save(model, tmp_path))["y"]
    mismatches, compared = [], 0
    for h in SIZES:
        for w in [3, 8, h + 5]:
            symbols = {"batch": 2, "H": h, "W": w}
            shape = [symbols[d] if isinstance(d, str) else d for d in input_dims]
            try:
                (expected,) = run_onnxruntime(model, tmp_path, np.zeros(shape, np.float32))
            except Exception:
                continue  # a size the model does not accept (a window larger than the input)
            compared += 1
            got = [evaluate(d, symbols) for d in dims]
            if got != list(expected.shape):
                mismatches.append((h, w, got, list(expected.shape)))
    assert compared >= len(SIZES), f"onnxruntime ran only {compared} sizes"
    assert not mismatches, f"inferred {dims}; mismatches (H, W, ssmc, onnxruntime): {mismatches[:5]}"


def test_vmamba_with_free_height_and_width_infers_the_output_type():
    """The zoo's VMamba exported with symbolic batch, height and width: every value gets a type."""
    path = os.path.join(MODELS, "vmamba-tiny-micro-sizes", "model.onnx")
    assert inferred_outputs(path) == {"output": ["batch", "10"]}
    result = subprocess.run([SSMC, "dump-ir", path, "--after", "shape-inference"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # The stem's two stride-2 convolutions: floor((H + 1)/2), then floor((H + 3)/4).
    assert "f32[batch,8,(height + 3)/4,(width + 3)/4]" in result.stdout
    assert ": ?" not in result.stdout
