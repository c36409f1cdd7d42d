"""Independent float64 check of the S4ND kernel code (tools/ssmc_models/s4nd_kernel.py) against the
definition in s4nd.md 4.3: dense 64x64 A = diag(w) - p p^H, bilinear A_bar = (I - dt/2 A)^-1 (I + dt/2 A),
B_bar = dt (I - dt/2 A)^-1 b, C = (I - A_bar^L)^-T c~, K[j] = C^T A_bar^j B_bar; and of the separable
taps against a direct 2-D "same" convolution with offsets -Lk..Lk-1. Even L (Nyquist) included.
Run: tools/py-export tools/spec_check_s4nd.py"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ssmc_models.s4nd_kernel import axis_kernel, bidirectional_taps, fft_conv_reference  # noqa: E402

rng = np.random.default_rng(0)
worst = 0.0
for h, n_half, cc, l_d in ((3, 8, 4, 16), (5, 32, 2, 14), (2, 4, 2, 7)):
    inv_dt = rng.uniform(np.log(0.1), 0.0, (h, 1))
    a_real = np.log(rng.uniform(0.05, 0.5, (1, n_half)))
    a_imag = rng.uniform(0, 10, (1, n_half))
    b = rng.normal(0, 0.7, (1, 1, n_half, 2))
    p = rng.normal(0, 0.7, (1, 1, n_half, 2))
    c = rng.normal(0, 0.5, (cc, h, n_half, 2))
    got = axis_kernel(inv_dt, a_real, a_imag, b, p, c, l_d, l_d)
    lam = -np.exp(a_real[0]) - 1j * a_imag[0]
    cplx = lambda t: t[..., 0] + 1j * t[..., 1]  # noqa: E731
    w = np.concatenate([lam, lam.conj()])
    pe = np.concatenate([cplx(p)[0, 0], cplx(p)[0, 0].conj()])
    be = np.concatenate([cplx(b)[0, 0], cplx(b)[0, 0].conj()])
    A = np.diag(w) - np.outer(pe, pe.conj())
    eye = np.eye(2 * n_half)
    want = np.zeros_like(got)
    for hh in range(h):
        dt = np.exp(inv_dt[hh, 0])
        inv = np.linalg.inv(eye - dt / 2 * A)
        a_bar = inv @ (eye + dt / 2 * A)
        b_bar = dt * inv @ be
        a_pow_l = np.linalg.matrix_power(a_bar, l_d)
        for ch in range(cc):
            ct = np.concatenate([cplx(c)[ch, hh], cplx(c)[ch, hh].conj()])
            cvec = np.linalg.solve((eye - a_pow_l).T, ct)
            x = b_bar.copy()
            for j in range(l_d):
                want[ch, hh, j] = (cvec @ x).real
                x = a_bar @ x
    err = np.abs(got - want).max() / np.abs(want).max()
    worst = max(worst, err)
    print(f"H={h} N'={n_half} L={l_d}: eigen form vs dense recurrence max-rel {err:.1e}")

# Separable taps vs the FFT application vs a direct 2-D sum, depthwise with D.
u = rng.normal(size=(1, 2, 6, 5))
k0 = rng.normal(size=(2, 2, 6))
k1 = rng.normal(size=(2, 2, 4))
d = rng.normal(size=(1, 2))
fft = fft_conv_reference(u, [k0, k1], d, None)
t0, t1 = bidirectional_taps(k0, 6)[0], bidirectional_taps(k1, 4)[0]
direct = np.zeros_like(u)
for ch in range(2):
    up = np.pad(u[0, ch], ((5, 6), (3, 4)))
    for i in range(6):
        for j in range(5):
            direct[0, ch, i, j] = (t0[ch][:, None] * t1[ch][None, :] * up[i:i + 12, j:j + 8]).sum()
direct += u * d[0][None, :, None, None]
err = np.abs(fft - direct).max() / np.abs(direct).max()
worst = max(worst, err)
print(f"FFT application vs separable taps (direct 2-D): max-rel {err:.1e}")
sys.exit(0 if worst < 1e-9 else 1)
