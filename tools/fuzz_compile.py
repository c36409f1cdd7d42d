"""Semantic fuzzing of `ssmc compile`: mutates ONNX models where a malformed file differs from a good one
(attribute values, dims, operand lists, initializers, element types) and checks that the compiler never
dies by a signal or a Swift trap and never leaves an output file behind when it fails.

    tools/py tools/fuzz_compile.py [--ssmc PATH] [--seed N] [--count N] [--keep DIR] MODEL.onnx ...

Prints one line per crash (with the mutations and, with --keep, the saved model) and exits 1 if any.
tests/python/test_malformed_models.py runs a short fixed-seed campaign of it over the zoo.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

# Values that break careless arithmetic: negatives, zero, and sizes that overflow when multiplied.
EDGE_INTS = [-1, -2, 0, 1, 2, 3, 7, 64, 2**31, 2**40, -(2**40), 2**62, -(2**63)]


def mutate(model, rng):
    """Applies one random mutation to `model` in place; returns what it did."""
    g = model.graph
    nodes = list(g.node)
    kind = rng.randrange(8)
    if kind == 0 and nodes:
        n = rng.choice(nodes)
        for a in n.attribute:
            if a.type == onnx.AttributeProto.INT:
                a.i = rng.choice(EDGE_INTS)
            elif a.type == onnx.AttributeProto.INTS and len(a.ints):
                a.ints[rng.randrange(len(a.ints))] = rng.choice(EDGE_INTS)
            elif a.type == onnx.AttributeProto.FLOAT:
                a.f = rng.choice([float("nan"), float("inf"), -1e30, 0.0])
        return f"attributes of {n.op_type} '{n.name}'"
    if kind == 1 and nodes:
        n = rng.choice(nodes)
        if len(n.input):
            del n.input[rng.randrange(len(n.input))]
        return f"dropped an input of {n.op_type} '{n.name}'"
    if kind == 2 and len(g.initializer):
        t = rng.choice(list(g.initializer))
        if len(t.dims):
            t.dims[rng.randrange(len(t.dims))] = rng.choice(EDGE_INTS[:8])
        return f"dims of initializer '{t.name}'"
    if kind == 3 and len(g.input):
        dims = rng.choice(list(g.input)).type.tensor_type.shape.dim
        if len(dims):
            dims[rng.randrange(len(dims))].dim_value = rng.choice([0, 1, 5, 2**40])
        return "dims of a graph input"
    if kind == 4 and nodes:
        n = rng.choice(nodes)
        value = rng.choice([[rng.choice(EDGE_INTS)], rng.choice(EDGE_INTS)])
        n.attribute.append(h.make_attribute(rng.choice(["axis", "axes", "perm", "group", "pads", "strides"]), value))
        return f"extra attribute on {n.op_type} '{n.name}'"
    if kind == 5 and len(g.initializer):
        t = rng.choice(list(g.initializer))
        if t.data_type == T.INT64:
            a = nh.to_array(t).copy()
            if a.size:
                a.flat[rng.randrange(a.size)] = rng.choice(EDGE_INTS)
                t.CopyFrom(nh.from_array(a, t.name))
            return f"a value of int64 initializer '{t.name}'"
        t.data_type = rng.choice([T.FLOAT, T.INT64, T.BOOL, T.DOUBLE, T.INT32])
        return f"element type of initializer '{t.name}'"
    if kind == 6 and nodes:
        n = rng.choice(nodes)
        if len(n.input) >= 2:
            i, j = rng.sample(range(len(n.input)), 2)
            n.input[i], n.input[j] = n.input[j], n.input[i]
        return f"swapped inputs of {n.op_type} '{n.name}'"
    if kind == 7 and nodes:
        n = rng.choice(nodes)
        n.output.append(f"extra_output_{rng.randrange(100)}")
        return f"extra output on {n.op_type} '{n.name}'"
    return "nothing"


def campaign(ssmc, models, seed, count, keep=None):
    """Runs `count` mutated compiles; returns the list of (mutations, model path, problem) that crashed."""
    rng = random.Random(seed)
    crashes = []
    with tempfile.TemporaryDirectory() as work:
        for iteration in range(count):
            model = onnx.load(rng.choice(models))
            what = [mutate(model, rng) for _ in range(rng.randrange(1, 3))]
            path = os.path.join(work, "model.onnx")
            onnx.save(model, path)
            lib = os.path.join(work, "lib.so")
            try:
                result = subprocess.run([ssmc, "compile", path, "-o", lib, "-O0"], capture_output=True, text=True,
                                        timeout=300)
            except subprocess.TimeoutExpired:
                crashes.append((what, None, "timed out"))
                continue
            problem = None
            if result.returncode < 0 or "Fatal error" in result.stderr:
                problem = f"died (status {result.returncode}): " + next(
                    (line for line in result.stderr.splitlines() if "Fatal error" in line), "")
            elif result.returncode != 0 and os.path.exists(lib):
                problem = "failed but left its output file"
            elif result.returncode != 0 and not result.stderr.strip():
                problem = "failed without a message"
            if os.path.exists(lib):
                os.remove(lib)
            if problem:
                saved = None
                if keep:
                    os.makedirs(keep, exist_ok=True)
                    saved = os.path.join(keep, f"crash_{seed}_{iteration}.onnx")
                    onnx.save(model, saved)
                crashes.append((what, saved, problem))
    return crashes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--ssmc", default=os.path.join(os.path.dirname(__file__), "..", ".build", "debug", "ssmc"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--keep", help="save each crashing model here")
    args = ap.parse_args()
    crashes = campaign(args.ssmc, args.models, args.seed, args.count, args.keep)
    for what, saved, problem in crashes:
        print(f"CRASH {problem}; mutations: {'; '.join(what)}" + (f"; saved {saved}" if saved else ""))
    print(f"{args.count} mutated models, {len(crashes)} crashes")
    return 1 if crashes else 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
