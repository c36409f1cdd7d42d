"""Benchmark of ssmc's SelectiveScan kernel (not a test).

For the scan shapes of Vim-Tiny, VMamba (headline, N=1) and VMamba-v0 (N=16) it times, in one run:
  - ssmc's compiled kernel on 1 and 2 threads,
  - a straightforward scalar C loop of the same formula (cc -O3 -march=native, one thread),
  - onnxruntime running the standard-ONNX `Scan` function body of the op (when tools/ssmc_export, which
    writes that body, is present),
and prints times, GB/s moved, GFLOP/s and the speed-ups side by side. It also checks every result against
the C loop. Run: PYTHONPATH=tools tools/py tools/bench_selective_scan.py [--ssmc PATH] [--repeat N]

Conventions: bytes moved = every input read once plus y written once. FLOPs: 7 per (batch, channel,
position, state) (Δ·A, the exp, Δu·B, the state FMA, the ⟨C, h⟩ FMA) and per (batch, channel, position)
2 for delta_bias + softplus, 2 for D·u, 3 for the z gate where present, with a transcendental counted as 1.
"""
import argparse
import ctypes
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ssmc_py import CompiledModel  # noqa: E402
from ssmc_py.runtime import _Tensor  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name, batch, channels, length, states, groups, optional inputs
SHAPES = [
    ("Vim-Tiny", 1, 384, 197, 16, 1, ("D", "z", "delta_bias")),
    ("VMamba headline stage 1", 1, 4 * 96, 3136, 1, 4, ("D", "delta_bias")),
    ("VMamba-v0 stage 1", 1, 4 * 192, 3136, 16, 4, ("D", "delta_bias")),
]
INPUTS = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias"]

C_SOURCE = r"""
#include <math.h>
#include <stdint.h>
/* The formula as one would write it: per (batch, channel) a state array and a loop over positions.
   B and C are (batch, groups, N, L); D, z, delta_bias may be NULL. */
void scan_ref(const float *u, const float *delta, const float *A, const float *B, const float *C,
              const float *D, const float *z, const float *delta_bias, float *y,
              int64_t batch, int64_t channels, int64_t length, int64_t states, int64_t groups,
              int32_t softplus, int32_t reverse) {
  float h[256];
  int64_t per_group = channels / groups;
  for (int64_t b = 0; b < batch; b++) {
    for (int64_t d = 0; d < channels; d++) {
      int64_t g = d / per_group;
      const float *bb = B + (b * groups + g) * states * length;
      const float *cc = C + (b * groups + g) * states * length;
      int64_t row = (b * channels + d) * length;
      for (int64_t n = 0; n < states; n++) h[n] = 0.0f;
      for (int64_t i = 0; i < length; i++) {
        int64_t l = reverse ? length - 1 - i : i;
        float dt = delta[row + l] + (delta_bias ? delta_bias[d] : 0.0f);
        if (softplus) dt = dt <= 20.0f ? log1pf(expf(dt)) : dt;
        float du = dt * u[row + l];
        float out = 0.0f;
        for (int64_t n = 0; n < states; n++) {
          h[n] = expf(dt * A[d * states + n]) * h[n] + du * bb[n * length + l];
          out += h[n] * cc[n * length + l];
        }
        if (D) out += D[d] * u[row + l];
        if (z) { float zz = z[row + l]; out *= zz / (1.0f + expf(-zz)); }
        y[row + l] = out;
      }
    }
  }
}
"""


def build_c_reference(directory):
    src = os.path.join(directory, "scan_ref.c")
    lib = os.path.join(directory, "libscan_ref.so")
    with open(src, "w") as f:
        f.write(C_SOURCE)
    subprocess.run(["cc", "-O3", "-march=native", "-shared", "-fPIC", "-o", lib, src, "-lm"], check=True)
    fn = ctypes.CDLL(lib).scan_ref
    fn.restype = None
    fn.argtypes = [ctypes.c_void_p] * 9 + [ctypes.c_int64] * 5 + [ctypes.c_int32] * 2
    return fn


def make_data(rng, batch, channels, length, states, groups):
    f = np.float32
    return {
        "u": rng.standard_normal((batch, channels, length)).astype(f),
        "delta": (rng.standard_normal((batch, channels, length)) * 0.5 - 2).astype(f),
        "A": (-np.exp(rng.standard_normal((channels, states)) * 0.5)).astype(f),
        "B": rng.standard_normal((batch, groups, states, length)).astype(f),
        "C": rng.standard_normal((batch, groups, states, length)).astype(f),
        "D": rng.standard_normal(channels).astype(f),
        "z": rng.standard_normal((batch, channels, length)).astype(f),
        "delta_bias": (rng.standard_normal(channels) * 0.3).astype(f),
    }


def scan_model(data, present, with_function):
    """One SelectiveScan node (softplus on, forward); with the exporters' function body when asked."""
    names = [n if n not in ("D", "z", "delta_bias") or n in present else "" for n in INPUTS]
    graph_inputs = [h.make_tensor_value_info(n, T.FLOAT, data[n].shape) for n in names if n]
    out = h.make_tensor_value_info("y", T.FLOAT, data["u"].shape)
    opsets = [h.make_opsetid("", 17), h.make_opsetid("ai.ssmc", 1)]
    if with_function:
        from ssmc_export import scan_function as sf
        node, _ = sf.make_node({n: n for n in names if n}, "y", delta_softplus=1, name="scan0")
        model = h.make_model(h.make_graph([node], "scan", graph_inputs, [out]), opset_imports=opsets)
        sf.finalize_model(model)
    else:
        node = h.make_node("SelectiveScan", names, ["y"], domain="ai.ssmc", name="scan0", delta_softplus=1)
        model = h.make_model(h.make_graph([node], "scan", graph_inputs, [out]), opset_imports=opsets)
    model.ir_version = 10
    return model, [n for n in names if n]


def best_time(fn, repeat, min_seconds=0.3):
    """Median of `repeat` timed batches, each long enough to be measured well; seconds per call."""
    return float(np.median(interleaved_times([fn], repeat, min_seconds)[0]))


def interleaved_times(fns, repeat, min_seconds=0.3):
    """Per-call seconds of each function over `repeat` rounds, one timed batch of every function per round.

    Alternating keeps a slow phase of a shared machine from landing on one side of a comparison: ratios
    are taken per round, between batches measured moments apart."""
    inner = []
    for fn in fns:
        fn()
        start = time.perf_counter()
        fn()
        inner.append(max(1, int(min_seconds / repeat / max(time.perf_counter() - start, 1e-6))))
    rounds = [[] for _ in fns]
    for _ in range(repeat):
        for fn, count, times in zip(fns, inner, rounds):
            start = time.perf_counter()
            for _ in range(count):
                fn()
            times.append((time.perf_counter() - start) / count)
    return rounds


def ssmc_runner(model, arrays, out):
    """A call of the compiled model with the ctypes argument blocks built once (no per-call marshalling)."""
    keep = []
    ins = (_Tensor * len(arrays))()
    for i, a in enumerate(arrays):
        dims = (ctypes.c_int64 * a.ndim)(*a.shape)
        keep.append(dims)
        ins[i] = _Tensor(a.ctypes.data, 1, a.ndim, dims)
    dims = (ctypes.c_int64 * out.ndim)(*out.shape)
    outs = (_Tensor * 1)(_Tensor(out.ctypes.data, 1, out.ndim, dims))
    lib, ctx = model._lib, model._ctx

    def run():
        status = lib.ssmc_run(ctx, ins, len(arrays), outs, 1)
        assert status == 0, lib.ssmc_last_error(ctx).decode()
    run.keep = (keep, dims, ins, outs)
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ssmc", default=os.environ.get("SSMC", os.path.join(ROOT, ".build", "debug", "ssmc")))
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    try:
        import ssmc_export.scan_function  # noqa: F401
        have_function = True
    except ImportError:
        have_function = False
    import onnxruntime as ort

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        c_scan = build_c_reference(tmp)
        rng = np.random.default_rng(0)
        for name, batch, channels, length, states, groups, present in SHAPES:
            data = make_data(rng, batch, channels, length, states, groups)
            model, names = scan_model(data, present, have_function)
            path = os.path.join(tmp, f"scan{len(rows)}.onnx")
            onnx.save(model, path)
            lib = os.path.join(tmp, f"libscan{len(rows)}.so")
            subprocess.run([args.ssmc, "compile", path, "-o", lib, "--name", "model"], check=True)
            arrays = [np.ascontiguousarray(data[n]) for n in names]

            ref = np.empty_like(data["u"])
            ptr = {n: (data[n].ctypes.data if n in names else None) for n in INPUTS}
            c_args = [ptr[n] for n in INPUTS] + [ref.ctypes.data, batch, channels, length, states, groups, 1, 0]
            t_c = best_time(lambda: c_scan(*c_args), args.repeat)

            # 1 and 2 threads alternate so that their ratio compares like with like.
            compiled, runners, outs = [], [], []
            for threads in (1, 2):
                outs.append(np.empty_like(data["u"]))
                compiled.append(CompiledModel(lib, threads=threads))
                runners.append(ssmc_runner(compiled[-1], arrays, outs[-1]))
            rounds = interleaved_times(runners, max(args.repeat, 15))
            t_ssmc = {threads: float(np.median(r)) for threads, r in zip((1, 2), rounds)}
            ratios = np.array(rounds[0]) / np.array(rounds[1])
            # The median of per-round ratios, its range, and the best round of each side (noise only adds time).
            scaling = (float(np.median(ratios)), float(ratios.min()), float(ratios.max()),
                       float(min(rounds[0]) / min(rounds[1])))
            for out in outs:
                err = float(np.abs(out - ref).max() / np.abs(ref).max())
                assert err < 1e-4, f"{name}: ssmc differs from the C loop by {err:.3g} of max|y|"
            del compiled, runners

            t_ort = {}
            if have_function:
                for threads in (1, 2):
                    options = ort.SessionOptions()
                    options.intra_op_num_threads = threads
                    options.inter_op_num_threads = 1
                    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
                    feed = dict(zip(names, arrays))
                    got = session.run(None, feed)[0]
                    err = float(np.abs(got - ref).max() / np.abs(ref).max())
                    assert err < 1e-4, f"{name}: onnxruntime differs from the C loop by {err:.3g} of max|y|"
                    t_ort[threads] = best_time(lambda: session.run(None, feed), max(3, args.repeat // 2))
                    # An idle session's threads still disturb the next shape's ssmc timings: free it now.
                    del session

            bytes_moved = sum(data[n].nbytes for n in names) + data["u"].nbytes
            per_position = 2 + 2 * ("D" in present) + 3 * ("z" in present)
            flops = batch * channels * length * (7 * states + per_position)
            rows.append((name, batch, channels, length, states, groups, t_c, t_ssmc, scaling, t_ort, bytes_moved, flops))

    print(f"SelectiveScan benchmark ({os.uname().machine}, {os.cpu_count()} CPUs); times are medians per call")
    for name, batch, channels, length, states, groups, t_c, t_ssmc, scaling, t_ort, nbytes, flops in rows:
        print(f"\n{name}: B={batch} D={channels} L={length} N={states} G={groups}, "
              f"{nbytes / 1e6:.1f} MB moved, {flops / 1e6:.1f} MFLOP")
        print(f"  {'implementation':<34}{'time ms':>10}{'GB/s':>8}{'GFLOP/s':>9}{'vs C loop':>11}")
        entries = [("scalar C loop (-O3 -march=native)", t_c)]
        entries += [(f"ssmc, {n} thread{'s' if n > 1 else ''}", t) for n, t in t_ssmc.items()]
        entries += [(f"onnxruntime Scan body, {n} thread{'s' if n > 1 else ''}", t) for n, t in t_ort.items()]
        for label, t in entries:
            print(f"  {label:<34}{t * 1e3:>10.3f}{nbytes / t / 1e9:>8.2f}{flops / t / 1e9:>9.2f}{t_c / t:>10.2f}x")
        print(f"  ssmc 2 threads vs 1 thread: {scaling[0]:.2f}x (median of rounds measured side by side; "
              f"range {scaling[1]:.2f}-{scaling[2]:.2f}x; best round vs best round {scaling[3]:.2f}x)")
        if not t_ort:
            print("  onnxruntime: not run (tools/ssmc_export with the op's Scan function body is not present)")


if __name__ == "__main__":
    main()
