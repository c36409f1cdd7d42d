"""ConvNeXt-S4ND-Tiny (the S4ND paper's ImageNet model; s4nd.md) with the official state_dict keys.

The eager forward is the official FFT computation, in float64, with kernels from the eigen-diagonal
form (s4nd_kernel.py). `export_module` swaps every S4ND layer for its export form: separable
depthwise convolutions with the kernels folded at the export resolution, or the `ai.ssmc::S4ND2D`
op carrying the raw parameters (docs/ops/S4ND2D.md).
"""
import math
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import LayerNorm2d, fan_in_uniform, normal, randomize, uniform
from .s4nd_kernel import axis_kernel, fft_conv_reference


class SSMKernelDPLR(nn.Module):
    """Parameters of one axis kernel (names and shapes as the official SSMKernelDPLR, n_ssm = 1)."""

    def __init__(self, h, n_half, channels, l_max):
        super().__init__()
        self.l_max = l_max
        self.inv_dt = nn.Parameter(torch.zeros(h, 1))
        self.A_real = nn.Parameter(torch.zeros(1, n_half))
        self.A_imag = nn.Parameter(torch.zeros(1, n_half))
        self.B = nn.Parameter(torch.zeros(1, 1, n_half, 2))
        self.P = nn.Parameter(torch.zeros(1, 1, n_half, 2))
        self.C = nn.Parameter(torch.zeros(channels, h, n_half, 2))
        self.register_buffer("l_kernel", torch.tensor(l_max, dtype=torch.long))

    def raw(self):
        return [t.detach().double().numpy() for t in (self.inv_dt, self.A_real, self.A_imag, self.B, self.P, self.C)]

    def kernel(self, length):
        """(2C', H, length) float64 numpy kernel."""
        return axis_kernel(*self.raw(), int(self.l_kernel), length)


class S4ND(nn.Module):
    """Bidirectional 2-D S4ND, trank 1, linear (no activation/output linear). out_channels None =
    depthwise with D skip; otherwise dense H -> out_channels without D (the stem)."""

    def __init__(self, d_model, l_max, out_channels=None, d_state=64):
        super().__init__()
        self.h, self.out_channels = d_model, out_channels
        self.D = nn.Parameter(torch.zeros(1, d_model))
        channels = 2 * (out_channels or 1)
        self.kernel = nn.ModuleList([SSMKernelDPLR(d_model, d_state // 2, channels, l) for l in l_max])

    def kernel_lengths(self, l_in):
        return [min(li, k.l_max) for li, k in zip(l_in, self.kernel)]

    def forward(self, u):
        l_in = tuple(u.shape[2:])
        ks = [k.kernel(lk) for k, lk in zip(self.kernel, self.kernel_lengths(l_in))]
        y = fft_conv_reference(u.detach().double().numpy(), ks, self.D.detach().double().numpy(),
                               self.out_channels)
        return torch.from_numpy(y).to(u.dtype)


class TransposedLinear(nn.Module):
    """Linear over dim 1 of (B, C, ...): a 1x1 convolution."""

    def __init__(self, d_input, d_output):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(d_output, d_input))
        self.bias = nn.Parameter(torch.zeros(d_output))

    def forward(self, x):
        return F.conv2d(x, self.weight[:, :, None, None], self.bias)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, l_max, d_state):
        super().__init__()
        self.conv_dw = S4ND(dim, l_max, d_state=d_state)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim)
        self.gamma = nn.Parameter(torch.full((dim,), 1e-6))

    def forward(self, x):
        shortcut = x
        x = self.mlp(self.norm(self.conv_dw(x).permute(0, 2, 3, 1))).permute(0, 3, 1, 2)
        return x * self.gamma.reshape(1, -1, 1, 1) + shortcut


class S4DownSample(nn.Module):
    def __init__(self, in_ch, out_ch, l_max, d_state):
        super().__init__()
        self.s4conv = S4ND(in_ch, l_max, d_state=d_state)
        self.fc = TransposedLinear(in_ch, 2 * out_ch)

    def forward(self, x):
        return F.glu(self.fc(F.avg_pool2d(self.s4conv(x), 2, 2)), dim=1)


class Stage(nn.Module):
    def __init__(self, in_ch, out_ch, img_size, stride, depth, d_state):
        super().__init__()
        self.downsampling = in_ch != out_ch or stride > 1
        if self.downsampling:
            self.norm_layer = LayerNorm2d(in_ch, eps=1e-6)
            self.downsample = S4DownSample(in_ch, out_ch, list(img_size), d_state)
        l_max = [s // stride for s in img_size]
        self.blocks = nn.ModuleList([Block(out_ch, l_max, d_state) for _ in range(depth)])

    def forward(self, x):
        if self.downsampling:
            x = self.downsample(self.norm_layer(x))
        for block in self.blocks:
            x = block(x)
        return x


class Stem(nn.Module):
    """new_s4nd_patch: dense S4ND 3 -> stem_channels, AvgPool 4, TransposedLinear, GLU, LayerNorm2d."""

    def __init__(self, out_ch, stem_channels, stem_l_max, d_state, patch_size=4):
        super().__init__()
        self.stem = S4ND(3, stem_l_max, out_channels=stem_channels, d_state=d_state)
        self.post_stem = nn.Sequential(nn.AvgPool2d(patch_size, patch_size), TransposedLinear(stem_channels, 2 * out_ch),
                                       nn.GLU(dim=1), LayerNorm2d(out_ch, eps=1e-6))

    def forward(self, x):
        return self.post_stem(self.stem(x))


class ConvNeXtS4ND(nn.Module):
    def __init__(self, img_size=(224, 224), depths=(3, 3, 9, 3), dims=(96, 192, 384, 768), stem_channels=32,
                 stem_l_max=(16, 16), d_state=64, num_classes=1000, patch_size=4):
        super().__init__()
        self.stem = Stem(dims[0], stem_channels, list(stem_l_max), d_state, patch_size)
        size = [s // patch_size for s in img_size]
        self.stages = nn.ModuleList()
        prev = dims[0]
        for i in range(4):
            stride = 1 if i == 0 else 2
            self.stages.append(Stage(prev, dims[i], size, stride, depths[i], d_state))
            prev = dims[i]
            size = [s // stride for s in size]
        self.head = nn.Sequential(OrderedDict(
            global_pool=nn.AdaptiveAvgPool2d(1), norm=LayerNorm2d(prev, eps=1e-6), flatten=nn.Flatten(1),
            drop=nn.Dropout(0.0), fc=nn.Linear(prev, num_classes)))

    def forward(self, x):
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.head(x)


CONFIGS = {
    "s4nd-convnext-tiny": dict(img_size=(224, 224)),
    "s4nd-convnext-tiny-micro": dict(img_size=(64, 64), depths=(1, 1, 2, 1), dims=(8, 16, 32, 64),
                                     stem_channels=8, num_classes=10),
}


def _log_dt(shape, gen):
    r = torch.rand(shape, generator=gen, dtype=torch.float64)
    return r * (math.log(1.0) - math.log(0.1)) + math.log(0.1)


RANDOM_RULES = [
    ("*.inv_dt", _log_dt),
    ("*.A_real", lambda s, g: torch.log(torch.rand(s, generator=g, dtype=torch.float64) * 0.45 + 0.05)),
    ("*.A_imag", uniform(0.0, 32 * math.pi)),
    ("*.kernel.*.B", normal(0.0, 0.7)),
    ("*.kernel.*.P", normal(0.0, 0.7)),
    ("*.kernel.*.C", normal(0.0, 0.5)),
    ("*.D", uniform(0.5, 1.5)),
    ("*.gamma", uniform(0.5, 1.5)),
    ("*norm*.weight", uniform(0.5, 1.5)),
    ("stem.post_stem.3.weight", uniform(0.5, 1.5)),
    ("*norm*.bias", normal(0.0, 0.1)),
    ("stem.post_stem.3.bias", normal(0.0, 0.1)),
    ("*.bias", normal(0.0, 0.05)),
    ("*", fan_in_uniform),
]


def build(name, img_size=None):
    """Always built at the config's size (l_max is fixed at build time, as in the official model);
    another input size runs the same model with truncated kernels and other padding."""
    return ConvNeXtS4ND(**CONFIGS[name])


def default_size(name):
    return tuple(CONFIGS[name]["img_size"])


def random_init(model, seed):
    return randomize(model, seed, RANDOM_RULES)


def export_module(model, size, form):
    """A copy of the model whose S4ND layers are in export form for input size `size`."""
    from .s4nd_export import convert
    return convert(model, size, form)
