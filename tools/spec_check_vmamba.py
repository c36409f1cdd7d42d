"""Independent check of VMamba's cross-scan/merge in tools/ssmc_models/vmamba.py against the index maps
of vmamba.md section 5.1, on a non-square map: p0(l) = l, p1(l) = (l mod H)*W + l div H, p2/p3 reversed,
and y[p] = ys0[p] + ys2[L-1-p] + ys1[q] + ys3[L-1-q] with q = w*H + h.
Run: tools/py-export tools/spec_check_vmamba.py"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ssmc_models.vmamba import cross_merge, cross_scan  # noqa: E402

worst = 0.0
for h, w in ((3, 5), (6, 4), (1, 7)):
    length = h * w
    x = torch.randn(2, 3, h, w, dtype=torch.float64)
    xs = cross_scan(x).numpy()
    flat = x.flatten(2).numpy()
    p1 = np.array([(ll % h) * w + ll // h for ll in range(length)])
    routes = [np.arange(length), p1, np.arange(length)[::-1], p1[::-1]]
    for k, route in enumerate(routes):
        worst = max(worst, np.abs(xs[:, k] - flat[:, :, route]).max())
    ys = torch.randn(2, 4, 3, length, dtype=torch.float64)
    got = cross_merge(ys, h, w).flatten(2).numpy()
    y = ys.numpy()
    want = np.zeros_like(got)
    for hh in range(h):
        for ww in range(w):
            p, q = hh * w + ww, ww * h + hh
            want[:, :, p] = y[:, 0, :, p] + y[:, 2, :, length - 1 - p] + y[:, 1, :, q] + y[:, 3, :, length - 1 - q]
    worst = max(worst, np.abs(got - want).max())
print(f"cross-scan/merge vs spec index maps: max-abs {worst:.1e}")
sys.exit(0 if worst < 1e-12 else 1)
