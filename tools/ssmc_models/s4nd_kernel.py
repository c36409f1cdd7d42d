"""S4ND per-axis kernels in float64 from the raw parameters (s4nd.md sections 4.2-4.4).

Uses the eigen-diagonal form: A = diag(w) - p p^H (conjugate-extended, 2N' = 64 modes) is factored
once per axis kernel as V diag(mu) V^-1; per channel, mu_bar = (1 + dt*mu/2)/(1 - dt*mu/2),
b_bar = dt * (V^-1 b)/(1 - dt*mu/2), c = (c_tilde^T V)/(1 - mu_bar^L) and K[j] = Re sum_n c_n b_bar_n mu_bar_n^j.
There is no division by 1 + omega here, so the Nyquist node of the official Cauchy form cannot blow up.
"""
import numpy as np


def _complex(t):
    t = np.asarray(t, np.float64)
    return t[..., 0] + 1j * t[..., 1]


def axis_kernel(inv_dt, A_real, A_imag, B, P, C, l_kernel, length):
    """Raw kernel (Cc, H, length) for one axis. C holds C~ (post-rewrite) when l_kernel > 0; when
    l_kernel == 0 it holds the plain C, which is used as is (the rewrite and its inverse cancel)."""
    dt = np.exp(np.asarray(inv_dt, np.float64)[:, 0])                        # (H,)
    lam = -np.exp(np.asarray(A_real, np.float64)[0]) - 1j * np.asarray(A_imag, np.float64)[0]  # (N',)
    b = _complex(B)[0, 0]
    p = _complex(P)[0, 0]
    c = _complex(C)                                                           # (Cc, H, N')
    w = np.concatenate([lam, lam.conj()])
    pe = np.concatenate([p, p.conj()])
    be = np.concatenate([b, b.conj()])
    ce = np.concatenate([c, c.conj()], axis=-1)                               # (Cc, H, 2N')
    A = np.diag(w) - np.outer(pe, pe.conj())
    mu, V = np.linalg.eig(A)
    vinv_b = np.linalg.solve(V, be)                                           # V^-1 b
    half = dt[:, None] * mu[None, :] / 2                                      # (H, 2N')
    mu_bar = (1 + half) / (1 - half)
    b_bar = dt[:, None] * vinv_b[None, :] / (1 - half)
    c_v = ce @ V                                                              # (Cc, H, 2N'): c~^T V
    if l_kernel > 0:
        c_v = c_v / (1 - mu_bar ** int(l_kernel))[None]
    j = np.arange(length)
    powers = mu_bar[:, :, None] ** j[None, None, :]                           # (H, 2N', length)
    k = np.einsum("chn,hn,hnl->chl", c_v, b_bar, powers)
    return k.real


def bidirectional_taps(k, l_kernel):
    """Splits (2C', H, Lk) into forward/backward halves and returns the cross-correlation taps
    (C', H, 2Lk) = [reverse(k+), k-]: tap t weights u[n - (Lk-1) + t], i.e. offsets Lk-1 .. -Lk,
    with the backward half starting at offset -1 (pads Lk-1 before and Lk after)."""
    half = k.shape[0] // 2
    fwd, bwd = k[:half], k[half:]
    return np.concatenate([fwd[..., ::-1], bwd], axis=-1)


def fft_conv_reference(u, kernels, D, out_channels):
    """The official FFT application (s4nd.md 4.6) in float64: u (B, H, L0, L1), kernels = [k0, k1]
    raw per-axis (2C', H, Lk_a). Returns (B, C'*H or out_channels, L0, L1)."""
    u = np.asarray(u, np.float64)
    l_in = u.shape[2:]
    kb = []
    for k, li in zip(kernels, l_in):
        half = k.shape[0] // 2
        k0, k1 = k[:half], k[half:]
        kb.append(np.concatenate([k0, np.zeros(k0.shape[:-1] + (li,))], -1)
                  + np.concatenate([np.zeros(k1.shape[:-1] + (li,)), k1[..., ::-1]], -1))
    pads = [li + k.shape[-1] for li, k in zip(l_in, kernels)]
    u_f = np.fft.rfftn(u, s=pads, axes=(2, 3))
    k_f = np.fft.fft(kb[0], n=pads[0])[..., :, None] * np.fft.rfft(kb[1], n=pads[1])[..., None, :]
    y_f = u_f[:, None] * k_f[None]                                            # (B, C', H, m, n)
    if out_channels:
        y_f = y_f.sum(axis=2)[:, None]                                        # sum inputs: (B, 1, C', m, n)
    y = np.fft.irfftn(y_f, s=pads, axes=(3, 4))[..., :l_in[0], :l_in[1]]
    if not out_channels:
        y = y + u[:, None] * np.asarray(D, np.float64)[None, :, :, None, None]
    return y.reshape(y.shape[0], -1, l_in[0], l_in[1])
