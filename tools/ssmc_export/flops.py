"""FLOPs of a PyTorch forward: 2 per multiply-add of convolutions and matrix products (counted by
torch's FlopCounterMode) plus 9·B·D·L·N per selective scan (the Mamba/VMamba formula)."""
import torch
from torch.utils.flop_counter import FlopCounterMode

from . import selective_scan as ss


def count_flops(model, x):
    scan = [0]
    original = ss.selective_scan_eager

    def counting(u, delta, A, *rest, **kw):
        scan[0] += 9 * u.shape[0] * u.shape[1] * u.shape[2] * A.shape[1]
        return original(u, delta, A, *rest, **kw)

    ss.selective_scan_eager = counting
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(x)
    finally:
        ss.selective_scan_eager = original
    return counter.get_total_flops() + scan[0]
