"""Export forms of the S4ND layer (s4nd.md section 8).

separable: the kernels are computed in float64 for the export resolution and folded into two
  depthwise 1-D convolutions per layer (Pad + Conv along height, Pad + Conv along width) plus D*u;
  the dense stem uses grouped convolutions and a ReduceSum over its input channels.
ssm: one `ai.ssmc::S4ND2D` node per layer carrying the raw SSM parameters (docs/ops/S4ND2D.md).
"""
import copy

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .s4nd import S4ND
from .s4nd_kernel import bidirectional_taps


class S4NDSeparable(nn.Module):
    def __init__(self, layer, l_in):
        super().__init__()
        self.dense = layer.out_channels is not None
        self.h = layer.h
        lk = layer.kernel_lengths(l_in)
        self.lk = lk
        taps = [bidirectional_taps(k.kernel(n), n) for k, n in zip(layer.kernel, lk)]   # (C', H, 2Lk)
        t0, t1 = (np.ascontiguousarray(t.transpose(1, 0, 2)) for t in taps)          # (H, C', 2Lk): h-major
        self.register_buffer("w_h", torch.from_numpy(t0.reshape(-1, 1, 2 * lk[0], 1)).float())
        self.register_buffer("w_w", torch.from_numpy(t1.reshape(-1, 1, 1, 2 * lk[1])).float())
        self.register_buffer("d", layer.D.detach().reshape(1, -1, 1, 1).clone())

    def forward(self, u):
        x = F.pad(u, (0, 0, self.lk[0] - 1, self.lk[0]))
        x = F.conv2d(x, self.w_h, groups=self.h)
        x = F.pad(x, (self.lk[1] - 1, self.lk[1], 0, 0))
        x = F.conv2d(x, self.w_w, groups=self.w_h.shape[0])
        if self.dense:   # (B, H*O, ...) -> sum over the H inputs
            b, _, l0, l1 = x.shape
            return x.reshape(b, self.h, -1, l0, l1).sum(dim=1)
        return x + u * self.d


_LAYERS = {}   # key -> S4ND layer; the tracer accepts ints, not modules, as Function arguments


class _S4ND2DOp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, key, u, *params):
        # The eager layer runs numpy FFTs; hide them from the tracer, which only needs the output.
        state = torch._C._get_tracing_state()
        torch._C._set_tracing_state(None)
        try:
            return _LAYERS[key](u)
        finally:
            torch._C._set_tracing_state(state)

    @staticmethod
    def symbolic(g, key, u, *params):
        layer = _LAYERS[key]
        out_ch = layer.out_channels or 0
        out = g.op("ai.ssmc::S4ND2D", u, *params,
                   l_kernel_i=[int(k.l_kernel) for k in layer.kernel], l_max_i=[k.l_max for k in layer.kernel],
                   out_channels_i=out_ch, bidirectional_i=1, d_state_i=2 * layer.kernel[0].A_real.shape[1])
        sizes = u.type().sizes()
        if sizes is not None:
            out.setType(u.type().with_sizes([sizes[0], out_ch or sizes[1], sizes[2], sizes[3]]))
        return out


class S4NDOp(nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, u):
        ps = []
        for k in self.layer.kernel:
            ps += [k.inv_dt, k.A_real, k.A_imag, k.B, k.P, k.C]
        _LAYERS[id(self.layer)] = self.layer
        return _S4ND2DOp.apply(id(self.layer), u, *ps, self.layer.D)


def convert(model, size, form):
    """Deep copy of `model` with each S4ND replaced by its export form for input (H, W) = size."""
    shapes = {}
    hooks = [m.register_forward_pre_hook(lambda m, a, n=name: shapes.__setitem__(n, tuple(a[0].shape[2:])))
             for name, m in model.named_modules() if isinstance(m, S4ND)]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, size[0], size[1]))
    finally:
        for h in hooks:
            h.remove()
    out = copy.deepcopy(model)
    for name, l_in in shapes.items():
        parent_name, _, attr = name.rpartition(".")
        parent = out.get_submodule(parent_name)
        layer = getattr(parent, attr)
        setattr(parent, attr, S4NDSeparable(layer, l_in) if form == "separable" else S4NDOp(layer))
    return out.eval()
