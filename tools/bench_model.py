"""Times a compiled model against onnxruntime on the same input, side by side in one run (a benchmark, not a test).

Usage: tools/py tools/bench_model.py LIB.so MODEL.onnx DATASET_DIR [--threads 1,2] [--runs N]
Prints median milliseconds per run for ssmc and onnxruntime at each thread count, and the speed ratio.
"""
import argparse
import glob
import os
import statistics
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from ssmc_py import CompiledModel


def load_inputs(dataset):
    files = sorted(glob.glob(os.path.join(dataset, "input_*.pb")), key=lambda p: int(p.rsplit("_", 1)[1].split(".")[0]))
    return [numpy_helper.to_array(onnx.load_tensor(f)) for f in files]


def median_ms(fn, runs):
    fn()  # warm up (thread start, page faults)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("library")
    parser.add_argument("model")
    parser.add_argument("dataset")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    inputs = load_inputs(args.dataset)
    print(f"{'threads':>7} {'ssmc ms':>10} {'onnxruntime ms':>15} {'speed-up':>9}")
    for threads in [int(t) for t in args.threads.split(",")]:
        model = CompiledModel(os.path.abspath(args.library), threads=threads)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
        feed = dict(zip([i.name for i in session.get_inputs()], inputs))
        ours = median_ms(lambda: model.run(*inputs), args.runs)
        theirs = median_ms(lambda: session.run(None, feed), args.runs)
        got = model.run(*inputs)[0]
        want = session.run(None, feed)[0]
        err = float(np.abs(got.astype(np.float64) - want).max() / max(np.abs(want).max(), 1e-30))
        print(f"{threads:>7} {ours:>10.2f} {theirs:>15.2f} {theirs / ours:>8.2f}x   (max-abs/max|ref| vs onnxruntime {err:.2e})")


if __name__ == "__main__":
    main()
