"""Builds models/matmul-mlp: two 256x256 MatMuls with a Relu between, for checking vector codegen.

x f32[64,256] -> MatMul W1 f32[256,256] -> Relu -> MatMul W2 f32[256,256] -> y f32[64,256].
Nearly all its work is GEMM, so `ssmc compile --emit asm` of it shows which vector registers the
target gets (zmm for znver4, ymm for x86-64-v3). Opset 17, weights from a fixed numpy seed; the
expected output is onnxruntime's (see tools/model_data.py).
    tools/py tools/make_matmul_model.py [-o models/matmul-mlp] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from model_data import REPO_ROOT, save_with_data

OPSET = 17
ROWS, WIDTH = 64, 256


def build(rng: np.random.Generator) -> onnx.ModelProto:
    def weight(name: str):
        return numpy_helper.from_array(
            (rng.standard_normal((WIDTH, WIDTH)) * np.sqrt(2.0 / WIDTH)).astype(np.float32), name)

    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h"]),
            helper.make_node("Relu", ["h"], ["h_relu"]),
            helper.make_node("MatMul", ["h_relu", "w2"], ["y"]),
        ],
        "matmul_mlp",
        inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, [ROWS, WIDTH])],
        outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, [ROWS, WIDTH])],
        initializer=[weight("w1"), weight("w2")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8,
                              producer_name="ssmc tools/make_matmul_model.py")
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO_ROOT / "models" / "matmul-mlp")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    model = build(rng)
    x = rng.standard_normal((ROWS, WIDTH)).astype(np.float32)
    save_with_data(model, {"x": x}, args.out)


if __name__ == "__main__":
    main()
