"""Builds models/cnn-mlp: a small CNN with an MLP head, the compiler core's model test.

image f32[1,3,32,32] -> Conv 3x3 pad 1 (16 ch, bias) -> Relu -> depthwise Conv 3x3 stride 2 pad 1
(group 16, no bias) -> Add a [16,1,1] bias by broadcasting -> SiLU written as x * Sigmoid(x) ->
MaxPool 2x2 -> Conv 1x1 (32 ch, bias) -> GlobalAveragePool -> Flatten -> Gemm 32->64 (transB=1)
-> exact GELU written as 0.5 * x * (1 + Erf(x / sqrt 2)) -> LayerNormalization (axis -1)
-> MatMul 64x10 + Add bias -> Softmax (axis -1) -> probs f32[1,10].

Opset 17 (the first with LayerNormalization), weights from a fixed numpy seed, built with
onnx.helper only. The expected output is onnxruntime's (see tools/model_data.py).
    tools/py tools/make_cnn_model.py [-o models/cnn-mlp] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from model_data import REPO_ROOT, save_with_data

OPSET = 17


def build(rng: np.random.Generator) -> onnx.ModelProto:
    def weight(name: str, shape: tuple[int, ...], fan_in: int | None = None, scale: float = 1.0):
        # He-style scaling keeps activations O(1) through the stack, so no layer saturates.
        std = scale * (np.sqrt(2.0 / fan_in) if fan_in else 1.0)
        return numpy_helper.from_array((rng.standard_normal(shape) * std).astype(np.float32), name)

    def scalar(name: str, value: float):
        return numpy_helper.from_array(np.array(value, dtype=np.float32), name)

    inits = [
        weight("conv1_w", (16, 3, 3, 3), fan_in=27), weight("conv1_b", (16,), scale=0.1),
        weight("dw_w", (16, 1, 3, 3), fan_in=9), weight("dw_b", (16, 1, 1), scale=0.1),
        weight("conv2_w", (32, 16, 1, 1), fan_in=16), weight("conv2_b", (32,), scale=0.1),
        weight("fc1_w", (64, 32), fan_in=32), weight("fc1_b", (64,), scale=0.1),
        numpy_helper.from_array((1 + 0.1 * rng.standard_normal(64)).astype(np.float32), "ln_scale"),
        weight("ln_bias", (64,), scale=0.1),
        weight("fc2_w", (64, 10), fan_in=64), weight("fc2_b", (10,), scale=0.1),
        scalar("sqrt2", np.sqrt(2.0)), scalar("one", 1.0), scalar("half", 0.5),
    ]
    node = helper.make_node
    nodes = [
        node("Conv", ["image", "conv1_w", "conv1_b"], ["conv1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        node("Relu", ["conv1"], ["relu1"]),
        node("Conv", ["relu1", "dw_w"], ["dw"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2], group=16),
        node("Add", ["dw", "dw_b"], ["dw_biased"]),
        node("Sigmoid", ["dw_biased"], ["dw_sigmoid"]),
        node("Mul", ["dw_biased", "dw_sigmoid"], ["silu"]),
        node("MaxPool", ["silu"], ["pool"], kernel_shape=[2, 2], strides=[2, 2]),
        node("Conv", ["pool", "conv2_w", "conv2_b"], ["conv2"], kernel_shape=[1, 1]),
        node("GlobalAveragePool", ["conv2"], ["gap"]),
        node("Flatten", ["gap"], ["flat"], axis=1),
        node("Gemm", ["flat", "fc1_w", "fc1_b"], ["fc1"], transB=1),
        node("Div", ["fc1", "sqrt2"], ["gelu_scaled"]),
        node("Erf", ["gelu_scaled"], ["gelu_erf"]),
        node("Add", ["gelu_erf", "one"], ["gelu_1p"]),
        node("Mul", ["fc1", "gelu_1p"], ["gelu_x"]),
        node("Mul", ["gelu_x", "half"], ["gelu"]),
        node("LayerNormalization", ["gelu", "ln_scale", "ln_bias"], ["ln"], axis=-1, epsilon=1e-5),
        node("MatMul", ["ln", "fc2_w"], ["fc2"]),
        node("Add", ["fc2", "fc2_b"], ["logits"]),
        node("Softmax", ["logits"], ["probs"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "cnn_mlp",
        inputs=[helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 32, 32])],
        outputs=[helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 10])],
        initializer=inits,
    )
    # IR version 8 is the one that goes with opset 17, so older runtimes load the file too.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8,
                              producer_name="ssmc tools/make_cnn_model.py")
    return onnx.shape_inference.infer_shapes(model, strict_mode=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO_ROOT / "models" / "cnn-mlp")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    model = build(rng)
    image = rng.standard_normal((1, 3, 32, 32)).astype(np.float32)
    save_with_data(model, {"image": image}, args.out)


if __name__ == "__main__":
    main()
