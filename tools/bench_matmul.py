"""MatMul throughput: ssmc vs onnxruntime vs numpy, side by side (a benchmark, not a test).

Usage: tools/py tools/bench_matmul.py [--ssmc PATH] [--threads N] [--target-cpu CPU] [--runtime-b]
Each size is an (M, K) x (K, N) MatMul with B a weight (initializer) unless --runtime-b makes B a graph input.
onnxruntime and numpy (OpenBLAS) run with the same thread count as ssmc.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--ssmc", default=os.environ.get("SSMC", os.path.join(os.path.dirname(__file__), "..", ".build", "debug", "ssmc")))
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--target-cpu", default="native")
ap.add_argument("--runtime-b", action="store_true")
args = ap.parse_args()
# OpenBLAS reads its thread count when numpy is first imported.
os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
os.environ["OMP_NUM_THREADS"] = str(args.threads)

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ssmc_py import CompiledModel  # noqa: E402

SIZES = [  # (M, K, N)
    (64, 64, 64),
    (197, 192, 768),
    (197, 384, 1536),
    (3136, 96, 384),
    (784, 768, 192),
    (512, 512, 512),
    (1024, 1024, 1024),
    (1, 768, 1000),
    (333, 257, 129),
]


def model(m, k, n, b):
    inputs = [helper.make_tensor_value_info("a", TensorProto.FLOAT, [m, k])]
    inits = []
    if args.runtime_b:
        inputs.append(helper.make_tensor_value_info("b", TensorProto.FLOAT, [k, n]))
    else:
        inits.append(numpy_helper.from_array(b, "b"))
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    g = helper.make_graph([node], "mm", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])], initializer=inits)
    mp = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    mp.ir_version = 9
    return mp


def best_time(fn, budget=0.4):
    fn()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < budget or len(times) < 5:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


rng = np.random.default_rng(0)
print(f"threads={args.threads} target-cpu={args.target_cpu} B={'input' if args.runtime_b else 'weight'}")
print(f"{'M x K x N':>20} {'ssmc':>9} {'ort':>9} {'numpy':>9} {'ssmc/ort':>9} {'ssmc/np':>8} {'max-rel':>8}  (GFLOP/s)")
with tempfile.TemporaryDirectory() as d:
    for (m, k, n) in SIZES:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        mp = model(m, k, n, b)
        path = os.path.join(d, f"mm_{m}_{k}_{n}.onnx")
        onnx.save(mp, path)
        lib = os.path.join(d, f"libmm_{m}_{k}_{n}.so")
        subprocess.run([args.ssmc, "compile", path, "-o", lib, "--target-cpu", args.target_cpu], check=True)
        compiled = CompiledModel(lib, threads=args.threads)
        feeds = [a, b] if args.runtime_b else [a]
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = args.threads
        sess = ort.InferenceSession(mp.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        names = [i.name for i in sess.get_inputs()]
        ort_feeds = dict(zip(names, feeds))
        got = compiled.run(*feeds)[0]
        ref = a.astype(np.float64) @ b.astype(np.float64)
        rel = float(np.max(np.abs(got - ref)) / np.max(np.abs(ref)))
        flop = 2.0 * m * k * n
        t_ssmc = best_time(lambda: compiled.run(*feeds))
        t_ort = best_time(lambda: sess.run(None, ort_feeds))
        t_np = best_time(lambda: a @ b)
        g = [flop / t / 1e9 for t in (t_ssmc, t_ort, t_np)]
        print(f"{f'{m}x{k}x{n}':>20} {g[0]:9.1f} {g[1]:9.1f} {g[2]:9.1f} {g[0] / g[1]:9.2f} {g[0] / g[2]:8.2f} {rel:8.1e}")
