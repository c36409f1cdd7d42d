"""Float64 numpy reference of Mamba's `selective_scan_fn` (docs/ops/SelectiveScan.md)."""
import numpy as np


def softplus(x):
    """torch's softplus (beta 1, threshold 20): x above 20, log(1 + exp(x)) otherwise."""
    return np.where(x > 20.0, x, np.log1p(np.exp(np.minimum(x, 20.0))))


def selective_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None,
                       delta_softplus=False, reverse=False):
    """Returns y (batch, channels, L) in float64; inputs as in docs/ops/SelectiveScan.md."""
    u = np.asarray(u, np.float64)
    delta = np.asarray(delta, np.float64)
    A = np.asarray(A, np.float64)
    B = np.asarray(B, np.float64)
    C = np.asarray(C, np.float64)
    nb, nd, nl = u.shape
    n = A.shape[1]
    if B.ndim == 3:
        B = B[:, None]
    if C.ndim == 3:
        C = C[:, None]
    g = B.shape[1]
    group = np.arange(nd) // (nd // g)          # channel d reads group d // (D/G)
    Bc = B[:, group]                             # (b, D, N, L)
    Cc = C[:, group]
    dt = delta + (0.0 if delta_bias is None else np.asarray(delta_bias, np.float64)[None, :, None])
    if delta_softplus:
        dt = softplus(dt)
    h = np.zeros((nb, nd, n))
    y = np.zeros((nb, nd, nl))
    steps = range(nl - 1, -1, -1) if reverse else range(nl)
    for l in steps:
        h = np.exp(dt[:, :, l, None] * A[None]) * h + (dt[:, :, l] * u[:, :, l])[:, :, None] * Bc[:, :, :, l]
        y[:, :, l] = np.einsum("bdn,bdn->bd", h, Cc[:, :, :, l])
    if D is not None:
        y = y + np.asarray(D, np.float64)[None, :, None] * u
    if z is not None:
        z = np.asarray(z, np.float64)
        y = y * z / (1.0 + np.exp(-z))
    return y
