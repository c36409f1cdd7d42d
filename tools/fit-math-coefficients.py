"""Fits the polynomial coefficients used by Sources/SSMCCodegen/Math/*.swift.

Weighted least squares on dense Chebyshev nodes in float64 (close to minimax for these smooth functions),
then float32 rounding; lowest degree first. Prints Swift arrays and each fit's max relative error
(in float64, so without float32 evaluation rounding). Run: tools/py tools/fit-math-coefficients.py
"""
import math
import numpy as np

erf = np.vectorize(math.erf)
erfc = np.vectorize(math.erfc)


def fit(name, f, lo, hi, degree, weight=None, iterations=6):
    k = np.arange(4000)
    t = 0.5 * (lo + hi) + 0.5 * (hi - lo) * np.cos(np.pi * (k + 0.5) / len(k))
    y = f(t)
    w = np.ones_like(t) if weight is None else weight(t)
    # Iteratively reweighted least squares pushes toward equal-ripple (minimax) error.
    extra = np.ones_like(t)
    for _ in range(iterations):
        A = np.vander(t, degree + 1, increasing=True) * (w * extra)[:, None]
        c, *_ = np.linalg.lstsq(A, y * w * extra, rcond=None)
        err = np.abs(np.polyval(c[::-1], t) - y) * w
        extra = extra * (1 + err / err.max())
    c32 = c.astype(np.float32).astype(np.float64)
    err = np.max(np.abs(np.polyval(c32[::-1], t) - y) * w)
    print(f"  // {name}: degree {degree} on [{lo:.6g}, {hi:.6g}], max weighted error {err:.3g}")
    print(f"  static let {name}: [Float] = [" + ", ".join(f"{float(np.float32(v))!r}" for v in c32) + "]")


def main():
    h = math.log(2) / 2
    # exp(r) = 1 + r + r^2 P(r); error relative to exp(r) through r^2.
    fit("expTail", lambda r: (np.expm1(r) - r) / r**2, -h, h, 5, weight=lambda r: r**2 / np.exp(r))
    # log(1+f) = f - f^2/2 + f^3 P(f), f = m - 1 for the mantissa m in [sqrt(1/2), sqrt(2)).
    lo, hi = math.sqrt(0.5) - 1, math.sqrt(2) - 1
    fit("logTail", lambda f: (np.log1p(f) - f + f * f / 2) / f**3, lo, hi, 8,
        weight=lambda f: np.abs(f**3 / np.log1p(f)))
    # tanh(x) = x + x^3 P(x^2) for |x| < 0.625.
    fit("tanhSmall", lambda s: (np.tanh(np.sqrt(s)) - np.sqrt(s)) / s**1.5, 1e-12, 0.625**2, 5,
        weight=lambda s: s**1.5 / np.tanh(np.sqrt(s)) / np.sqrt(s))
    # erf(x) = x P(x^2) for |x| < 1.
    fit("erfSmall", lambda s: erf(np.sqrt(s)) / np.sqrt(s), 1e-12, 1.0, 9)
    # erfc(x) = exp(-x^2 + R(u)), u = x - 2.5, for 1 <= x <= 4 (erf(x) is 1 in float32 from 3.92 on).
    # Centering keeps the float32 coefficients well conditioned.
    fit("erfcLogRest", lambda u: np.log(erfc(u + 2.5)) + (u + 2.5) ** 2, -1.5, 1.5, 11)


if __name__ == "__main__":
    main()
