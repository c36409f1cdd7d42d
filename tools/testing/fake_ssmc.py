"""A fake `ssmc` CLI: the self-test harness of tools/onnx_backend_tests.py, never a test of ssmc.

It speaks the three subcommands the runner uses, with onnxruntime doing the work:
  ops      prints the op types in FAKE_SSMC_OPS (comma-separated; a small default set)
  compile  copies MODEL.onnx to LIB.so (and writes an empty NAME.h beside it)
  check    runs LIB.so (an .onnx in disguise) in onnxruntime on a test_data_set_N folder and
           compares with its output_K.pb the way onnx's backend runner does
Faults can be injected to see that the runner reports them; each variable is a regex searched
in the model path (compile) or data-set path (check):
  FAKE_SSMC_COMPILE_FAIL  compile exits 1 with an error message
  FAKE_SSMC_WRONG         check perturbs the computed outputs by 1%
  FAKE_SSMC_HANG          check sleeps for an hour (to exercise --timeout)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

DEFAULT_OPS = "Add,Sub,Mul,Div,Relu,Sigmoid,Tanh,Exp,Abs,Neg,Sqrt,MatMul,Softmax"


def injected(var: str, path: Path) -> bool:
    pattern = os.environ.get(var)
    return bool(pattern) and re.search(pattern, str(path)) is not None


def cmd_ops(_: argparse.Namespace) -> int:
    for op in os.environ.get("FAKE_SSMC_OPS", DEFAULT_OPS).split(","):
        if op.strip():
            print(f"ai.onnx {op.strip()}")
    return 0


def cmd_compile(args: argparse.Namespace) -> int:
    if injected("FAKE_SSMC_COMPILE_FAIL", args.model):
        print(f"error: {args.model}: injected compile failure (FAKE_SSMC_COMPILE_FAIL)", file=sys.stderr)
        return 1
    onnx.checker.check_model(onnx.load(args.model))
    shutil.copyfile(args.model, args.output)
    name = args.name or args.model.stem
    (args.output.parent / f"{name}.h").write_text("/* fake ssmc: no real header */\n")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    import onnxruntime as ort

    if injected("FAKE_SSMC_HANG", args.dataset):
        time.sleep(3600)
    model = onnx.load(args.library)
    initializers = {t.name for t in model.graph.initializer}
    input_names = [v.name for v in model.graph.input if v.name not in initializers]

    def load(path: Path) -> np.ndarray:
        t = onnx.TensorProto()
        t.ParseFromString(path.read_bytes())
        return numpy_helper.to_array(t)

    feeds = {n: load(args.dataset / f"input_{i}.pb") for i, n in enumerate(input_names)}
    expected = [load(p) for p in sorted(args.dataset.glob("output_*.pb"), key=lambda p: int(p.stem[7:]))]
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(args.library), options, providers=["CPUExecutionProvider"])
    got = session.run(None, feeds)
    if injected("FAKE_SSMC_WRONG", args.dataset):
        got = [g * np.asarray(1.01, g.dtype) + np.asarray(1, g.dtype) if g.dtype.kind == "f" else g + 1 for g in got]
    ok = len(got) == len(expected)
    if not ok:
        print(f"error: {len(got)} outputs, expected {len(expected)}")
    for k, (g, e) in enumerate(zip(got, expected)):
        if g.shape != e.shape or g.dtype != e.dtype:
            print(f"output {k}: got {g.dtype}{list(g.shape)}, expected {e.dtype}{list(e.shape)}")
            ok = False
            continue
        if e.dtype.kind not in "fc":
            bad = np.count_nonzero(g != e)
            print(f"output {k}: {bad} of {e.size} elements differ")
            ok = ok and bad == 0
            continue
        g, e = np.atleast_1d(g), np.atleast_1d(e)  # ORT may return 0-d arrays; index them uniformly
        diff = np.abs(g.astype(np.float64) - e.astype(np.float64))
        both_nan = np.isnan(g) & np.isnan(e)
        diff[both_nan] = 0
        rel = diff / np.maximum(np.abs(e.astype(np.float64)), np.finfo(np.float64).tiny)
        close = np.isclose(g, e, rtol=args.rtol, atol=args.atol, equal_nan=True)
        print(f"output {k}: max-abs {diff.max(initial=0):.3g} max-rel {rel.max(initial=0):.3g}")
        if not close.all():
            print(f"output {k}: {np.count_nonzero(~close)} of {e.size} elements outside rtol {args.rtol} atol {args.atol}")
            ok = False
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(prog="fake-ssmc", description="fake ssmc for the backend runner's self-test")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("ops").set_defaults(func=cmd_ops)
    p = sub.add_parser("compile")
    p.add_argument("model", type=Path)
    p.add_argument("-o", dest="output", type=Path, required=True)
    p.add_argument("--name")
    p.add_argument("--target-cpu")
    p.add_argument("--emit", default="so")
    p.set_defaults(func=cmd_compile)
    p = sub.add_parser("check")
    p.add_argument("library", type=Path)
    p.add_argument("dataset", type=Path)
    p.add_argument("--rtol", type=float, default=1e-3)
    p.add_argument("--atol", type=float, default=1e-7)
    p.set_defaults(func=cmd_check)
    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
