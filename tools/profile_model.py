"""Per-node profile of a library compiled with `ssmc compile --profile`.

Usage: PYTHONPATH=tools tools/py tools/profile_model.py LIB.so DATASET_DIR [--threads N] [--runs N] [--top N]
                                                         [--sort wall|cpu]
Runs the model on the data set's inputs (input_*.pb; or random inputs of the declared shapes when DATASET_DIR
is '-') and prints the slowest nodes (name, op, shapes, wall and calling-thread CPU ms per run, % of the
total) and the time per op type. On a machine busy with other work, sort by cpu: wall times then include
time the thread spent descheduled (with one thread, CPU time is the node's whole cost).
"""
import argparse
import collections
import glob
import os
import time

import numpy as np

from ssmc_py import CompiledModel


def load_inputs(model, dataset):
    if dataset == "-":
        rng = np.random.default_rng(0)
        return [rng.standard_normal(i["shape"]).astype(i["dtype"]) for i in model.inputs]
    import onnx
    from onnx import numpy_helper
    files = sorted(glob.glob(os.path.join(dataset, "input_*.pb")), key=lambda p: int(p.rsplit("_", 1)[1].split(".")[0]))
    return [numpy_helper.to_array(onnx.load_tensor(f)) for f in files]


def profile(library, dataset, threads=1, runs=5):
    """Returns (per-node list with ms and cpu_ms per run, wall ms per run)."""
    model = CompiledModel(os.path.abspath(library), threads=threads)
    if not model._lib.ssmc_profile_num_nodes():
        raise SystemExit(f"{library} was not compiled with `ssmc compile --profile`")
    inputs = load_inputs(model, dataset)
    model.run(*inputs)  # warm up (threads, page faults)
    model.reset_profile()
    start = time.perf_counter()
    for _ in range(runs):
        model.run(*inputs)
    wall = (time.perf_counter() - start) * 1e3 / runs
    nodes = model.profile()
    for n in nodes:
        n["ms"] /= runs
        n["cpu_ms"] /= runs
    return nodes, wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("library")
    parser.add_argument("dataset")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", choices=["wall", "cpu"], default="wall")
    args = parser.parse_args()
    nodes, wall = profile(args.library, args.dataset, args.threads, args.runs)
    key = "ms" if args.sort == "wall" else "cpu_ms"
    total = sum(n[key] for n in nodes)
    print(f"{len(nodes)} nodes, {sum(n['ms'] for n in nodes):.2f} ms wall and {sum(n['cpu_ms'] for n in nodes):.2f} ms "
          f"CPU per run in nodes, {wall:.2f} ms per run wall ({args.threads} thread(s)); % of {args.sort} time\n")
    print(f"{'ms':>8} {'cpu ms':>8} {'%':>6}  {'op':<22} {'name':<40} shapes")
    for n in sorted(nodes, key=lambda n: -n[key])[:args.top]:
        print(f"{n['ms']:8.3f} {n['cpu_ms']:8.3f} {100 * n[key] / total:6.2f}  {n['op']:<22} {n['name'][-40:]:<40} {n['shapes']}")
    by_op = collections.defaultdict(lambda: [0.0, 0.0, 0])
    for n in nodes:
        by_op[n["op"]][0] += n["ms"]
        by_op[n["op"]][1] += n["cpu_ms"]
        by_op[n["op"]][2] += 1
    print(f"\n{'ms':>8} {'cpu ms':>8} {'%':>6} {'nodes':>6}  op")
    for op, (ms, cpu, count) in sorted(by_op.items(), key=lambda kv: -kv[1][0 if args.sort == "wall" else 1]):
        print(f"{ms:8.3f} {cpu:8.3f} {100 * (ms if args.sort == 'wall' else cpu) / total:6.2f} {count:6d}  {op}")

if __name__ == "__main__":
    main()
