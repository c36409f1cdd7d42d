"""Writes Tests/SSMCPassesTests/Inputs/s4nd-kernels.json: S4ND axis kernels computed by the Python float64
reference (tools/ssmc_models/s4nd_kernel.py, numpy's LAPACK eigen-solver) for a few parameter sets, so the
Swift kernel code of expand-s4nd is checked against an independent implementation.

    tools/py tools/make_s4nd_kernel_fixture.py
"""
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ssmc_models.s4nd_kernel import axis_kernel  # noqa: E402


def random_case(rng, name, h, pairs, kernel_channels, l_kernel, length):
    """Parameters drawn like the exporter's random init (tools/ssmc_models/s4nd.py RANDOM_RULES)."""
    return dict(
        name=name, l_kernel=l_kernel, length=length,
        log_dt=rng.uniform(math.log(0.1), math.log(1.0), (h, 1)),
        A_real=np.log(rng.uniform(0.05, 0.5, (1, pairs))),
        A_imag=rng.uniform(0.0, 32 * math.pi, (1, pairs)),
        B=rng.normal(0.0, 0.7, (1, 1, pairs, 2)),
        P=rng.normal(0.0, 0.7, (1, 1, pairs, 2)),
        C=rng.normal(0.0, 0.5, (kernel_channels, h, pairs, 2)),
    )


def fourier_like_case(rng, name, h, l_kernel, length):
    """Close to the official `fourier` init (s4nd.md 4.1): Re λ = −1e-4, Im λ = −π·{31 … 1} and −1e-4,
    B = P ≈ ±i: eigenvalues near the imaginary axis, a harder spectrum for the eigen-solver."""
    pairs = 32
    imag = np.concatenate([math.pi * np.arange(31, 0, -1), [1e-4]])
    b = np.zeros((1, 1, pairs, 2))
    b[0, 0, :, 1] = np.where(np.arange(pairs) % 2 == 0, 1.0, -1.0) * 0.9
    b[0, 0, -2] = [-1.0, 0.0]
    b[0, 0, -1] = [0.7071, 0.0]
    return dict(
        name=name, l_kernel=l_kernel, length=length,
        log_dt=rng.uniform(math.log(0.1), math.log(1.0), (h, 1)),
        A_real=np.full((1, pairs), math.log(1e-4)), A_imag=imag[None, :],
        B=b, P=b.copy(), C=rng.normal(0.0, 0.5, (2, h, pairs, 2)),
    )


def main():
    rng = np.random.default_rng(7)
    cases = [
        random_case(rng, "depthwise, l_kernel = length", 3, 32, 2, 16, 16),
        random_case(rng, "depthwise, shorter than l_kernel (odd)", 4, 32, 2, 14, 9),
        random_case(rng, "dense (3 outputs), l_kernel 0 (plain C)", 2, 32, 6, 0, 12),
        random_case(rng, "small state, long kernel", 2, 4, 2, 7, 40),
        fourier_like_case(rng, "fourier-like spectrum, plain C", 2, 0, 20),
        fourier_like_case(rng, "fourier-like spectrum, l_kernel 14", 2, 14, 14),
    ]
    out = []
    for case in cases:
        params = [case[k] for k in ("log_dt", "A_real", "A_imag", "B", "P", "C")]
        kernel = axis_kernel(*params, case["l_kernel"], case["length"])
        entry = {k: (np.asarray(v).ravel().tolist() if isinstance(v, np.ndarray) else v) for k, v in case.items()}
        entry["C_shape"] = list(case["C"].shape)
        entry["kernel"] = kernel.ravel().tolist()
        entry["kernel_shape"] = list(kernel.shape)
        out.append(entry)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "SSMCPassesTests", "Inputs",
                        "s4nd-kernels.json")
    with open(path, "w") as fh:
        json.dump({"generator": "tools/make_s4nd_kernel_fixture.py", "cases": out}, fh)
        fh.write("\n")
    print(f"wrote {len(out)} cases to {os.path.normpath(path)} ({os.path.getsize(path)} bytes)")
    for case, entry in zip(cases, out):
        print(f"  {case['name']}: max|K| {np.max(np.abs(entry['kernel'])):.3g}")


if __name__ == "__main__":
    main()
