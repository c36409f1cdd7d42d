"""Depthwise long-kernel Conv throughput (the S4ND shapes of ConvNeXt-S4ND-T), one or two ssmc builds
side by side (a benchmark, not a test).

Usage: tools/py tools/bench_depthwise.py [--ssmc PATH] [--base PATH] [--threads N] [--rounds R]
Each shape is one Conv node with S4ND padding ((k-1)//2 before, k//2 after along the kernel's axis).
With --base, the two libraries are timed interleaved (round robin) so machine noise hits both alike;
the median over rounds is reported in GFLOP/s, plus the max-rel error against onnxruntime.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--ssmc", default=os.environ.get("SSMC", os.path.join(os.path.dirname(__file__), "..", ".build", "release", "ssmc")))
ap.add_argument("--base", default=None, help="a second ssmc binary to compare against")
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--rounds", type=int, default=30)
ap.add_argument("--only", default=None, help="substring of a shape name")
ap.add_argument("--shape", action="append", default=[], help="extra shape N,C,H,W,M,KH,KW (replaces the list)")
args = ap.parse_args()

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ssmc_py import CompiledModel  # noqa: E402

# name, (N, C, H, W), out channels, (kh, kw)
SHAPES = [
    ("stem 1x32", (1, 96, 224, 224), 96, (1, 32)),
    ("stem 32x1 (x32)", (1, 3, 224, 224), 96, (32, 1)),
    ("stage0 1x112", (1, 96, 56, 56), 96, (1, 112)),
    ("stage0 112x1", (1, 96, 56, 56), 96, (112, 1)),
    ("stage1 1x56", (1, 192, 28, 28), 192, (1, 56)),
    ("stage1 56x1", (1, 192, 28, 28), 192, (56, 1)),
]


def model(x_shape, m, kernel, w):
    n, c, h, wd = x_shape
    kh, kw = kernel
    pads = [(kh - 1) // 2, (kw - 1) // 2, kh // 2, kw // 2]
    oh, ow = h + pads[0] + pads[2] - kh + 1, wd + pads[1] + pads[3] - kw + 1
    node = helper.make_node("Conv", ["x", "w"], ["y"], group=c, pads=pads, kernel_shape=[kh, kw])
    g = helper.make_graph(
        [node], "dw", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, m, oh, ow])],
        initializer=[numpy_helper.from_array(w, "w")])
    mp = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    mp.ir_version = 9
    return mp, n * m * oh * ow * kh * kw * 2.0


if args.shape:
    SHAPES = [(s, tuple(int(v) for v in s.split(",")[:4]), int(s.split(",")[4]), tuple(int(v) for v in s.split(",")[5:]))
              for s in args.shape]
rng = np.random.default_rng(0)
binaries = [("new", args.ssmc)] + ([("base", args.base)] if args.base else [])
print(f"threads={args.threads} rounds={args.rounds}; GFLOP/s (median, and best round), max-rel vs onnxruntime")
with tempfile.TemporaryDirectory() as d:
    for name, x_shape, m, kernel in SHAPES:
        if args.only and args.only not in name:
            continue
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = rng.standard_normal((m, 1) + kernel).astype(np.float32)
        mp, flop = model(x_shape, m, kernel, w)
        path = os.path.join(d, "m.onnx")
        onnx.save(mp, path)
        ref = ort.InferenceSession(mp.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
        libs = []
        for tag, binary in binaries:
            lib = os.path.join(d, f"lib_{tag}_{len(libs)}_{abs(hash(name))}.so")
            subprocess.run([binary, "compile", path, "-o", lib], check=True)
            cm = CompiledModel(lib, threads=args.threads)
            got = cm.run(x)[0]
            rel = float(np.max(np.abs(got - ref)) / np.max(np.abs(ref)))
            libs.append((tag, cm, rel, []))
        for _ in range(2):
            for _, cm, _, _ in libs:
                cm.run(x)
        for _ in range(args.rounds):
            for _, cm, _, times in libs:
                t = time.perf_counter()
                cm.run(x)
                times.append(time.perf_counter() - t)
        cols = "  ".join(f"{tag} {flop / np.median(t) / 1e9:6.1f} ({np.median(t) * 1e3:6.2f} ms, best {flop / min(t) / 1e9:6.1f}, rel {rel:.1e})"
                        for tag, _, rel, t in libs)
        print(f"{name:>16}: {cols}")
