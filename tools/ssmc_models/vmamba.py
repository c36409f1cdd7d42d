"""VMamba: the headline VMamba-T (vssm1_tiny_0230s, forward type v05_noz, channel-first) and the
original v0 VMamba-T (vssm_tiny, channel-last), from vmamba.md (classification/models/vmamba.py keys)."""
import math
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

from ssmc_export.selective_scan import selective_scan

from .common import LayerNorm2d, dt_bias, fan_in_uniform, log_uniform, normal, randomize, uniform

K = 4  # scan directions: row, column, row reversed, column reversed


def cross_scan(x):
    """(B, D, H, W) -> (B, 4, D, L): routes row-major, column-major, and both reversed."""
    b, d, h, w = x.shape
    x0 = x.flatten(2)
    x1 = x.transpose(2, 3).flatten(2)
    return torch.stack([x0, x1, x0.flip([-1]), x1.flip([-1])], dim=1)


def cross_merge(ys, h, w):
    """(B, 4, D, L) -> (B, D, H, W): sums the four routes back in row-major pixel order."""
    b, _, d, _ = ys.shape
    y = ys[:, 0] + ys[:, 2].flip([-1])
    yc = ys[:, 1] + ys[:, 3].flip([-1])
    yc = yc.reshape(b, d, w, h).transpose(2, 3).reshape(b, d, h * w)   # view (W, H) before transposing back
    return (y + yc).reshape(b, d, h, w)


class SS2D(nn.Module):
    """SS2D core shared by both variants; `version` picks v05_noz (channel-first, grouped 1x1 conv1d
    projections, no z) or v0 (channel-last, einsum projections, SiLU(z) gate after out_norm)."""

    def __init__(self, d_model, d_state, ssm_ratio, version):
        super().__init__()
        self.version = version
        d_inner = int(ssm_ratio * d_model)
        self.d_inner, self.d_state = d_inner, d_state
        self.dt_rank = math.ceil(d_model / 16)
        r, n, d = self.dt_rank, d_state, d_inner
        self.x_proj_weight = nn.Parameter(torch.zeros(K, r + 2 * n, d))
        self.A_logs = nn.Parameter(torch.zeros(K * d, n))
        self.Ds = nn.Parameter(torch.ones(K * d))
        self.dt_projs_weight = nn.Parameter(torch.zeros(K, d, r))
        self.dt_projs_bias = nn.Parameter(torch.zeros(K, d))
        if version == "v05_noz":
            self.out_norm = LayerNorm2d(d)
            self.in_proj = nn.Linear(d_model, d, bias=False)          # Linear2d: applied as a 1x1 conv
            self.conv2d = nn.Conv2d(d, d, 3, padding=1, groups=d, bias=False)
            self.out_proj = nn.Linear(d, d_model, bias=False)
        else:
            self.in_proj = nn.Linear(d_model, 2 * d, bias=False)
            self.conv2d = nn.Conv2d(d, d, 3, padding=1, groups=d, bias=True)
            self.out_norm = nn.LayerNorm(d)
            self.out_proj = nn.Linear(d, d_model, bias=False)

    def _core(self, x):
        """x (B, D, H, W) after conv+SiLU -> merged scan output (B, D, H, W)."""
        b, _, h, w = x.shape
        d, r, n = self.d_inner, self.dt_rank, self.d_state   # python ints: weight shapes stay static
        xs = cross_scan(x)                                              # (B, 4, D, L)
        if self.version == "v05_noz":
            x_dbl = F.conv1d(xs.reshape(b, K * d, h * w), self.x_proj_weight.reshape(K * (r + 2 * n), d, 1),
                             groups=K).reshape(b, K, r + 2 * n, h * w)
        else:
            x_dbl = torch.einsum("bkdl,kcd->bkcl", xs, self.x_proj_weight)
        dts, bs, cs = torch.split(x_dbl, [r, n, n], dim=2)
        if self.version == "v05_noz":
            dts = F.conv1d(dts.reshape(b, K * r, h * w), self.dt_projs_weight.reshape(K * d, r, 1), groups=K)
        else:
            dts = torch.einsum("bkrl,kdr->bkdl", dts, self.dt_projs_weight).reshape(b, K * d, h * w)
        A = -torch.exp(self.A_logs.float())
        ys = selective_scan(xs.reshape(b, K * d, h * w), dts, A, bs, cs, self.Ds.float(), None,
                            self.dt_projs_bias.float().reshape(-1), delta_softplus=True)
        return cross_merge(ys.reshape(b, K, d, h * w), h, w)

    def forward(self, x):
        if self.version == "v05_noz":                                    # NCHW in and out
            x = F.conv2d(x, self.in_proj.weight[:, :, None, None])
            x = F.silu(self.conv2d(x))
            y = self.out_norm(self._core(x))
            return F.conv2d(y, self.out_proj.weight[:, :, None, None])
        xz = self.in_proj(x)                                             # NHWC in and out
        x, z = xz.chunk(2, dim=-1)
        z = F.silu(z)
        x = F.silu(self.conv2d(x.permute(0, 3, 1, 2)))
        y = self._core(x).permute(0, 2, 3, 1)                            # (B, H, W, D)
        return self.out_proj(self.out_norm(y) * z)


class Mlp(nn.Module):
    """fc1 -> exact GELU -> fc2 as 1x1 convolutions on NCHW (Linear2d)."""

    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        x = F.conv2d(x, self.fc1.weight[:, :, None, None], self.fc1.bias)
        return F.conv2d(self.act(x), self.fc2.weight[:, :, None, None], self.fc2.bias)


class VSSBlock(nn.Module):
    def __init__(self, dim, cfg):
        super().__init__()
        headline = cfg["version"] == "v05_noz"
        self.norm = LayerNorm2d(dim) if headline else nn.LayerNorm(dim)
        self.op = SS2D(dim, cfg["d_state"], cfg["ssm_ratio"], cfg["version"])
        self.mlp_ratio = cfg["mlp_ratio"]
        if self.mlp_ratio > 0:
            self.norm2 = LayerNorm2d(dim)
            self.mlp = Mlp(dim, int(dim * self.mlp_ratio))

    def forward(self, x):
        x = x + self.op(self.norm(x))
        if self.mlp_ratio > 0:
            x = x + self.mlp(self.norm2(x))
        return x


class PatchMerging2D(nn.Module):
    """v0 downsample on NHWC: zero-pad odd H/W at the bottom/right, 2x2 gather in the order
    (0,0), (1,0), (0,1), (1,1) of (row, col) offsets, LayerNorm(4C), then Linear(4C -> 2C)."""

    def __init__(self, dim):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x):
        h, w = x.shape[1], x.shape[2]
        if h % 2 or w % 2:
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduction(self.norm(x))


class VSSM(nn.Module):
    def __init__(self, version, depths, dims, d_state, ssm_ratio, mlp_ratio, num_classes=1000):
        super().__init__()
        cfg = dict(version=version, d_state=d_state, ssm_ratio=ssm_ratio, mlp_ratio=mlp_ratio)
        self.headline = version == "v05_noz"
        c0 = dims[0]
        if self.headline:   # stem v2; Identity slots keep the official Sequential indices
            self.patch_embed = nn.Sequential(
                nn.Conv2d(3, c0 // 2, 3, 2, 1), nn.Identity(), LayerNorm2d(c0 // 2), nn.Identity(), nn.GELU(),
                nn.Conv2d(c0 // 2, c0, 3, 2, 1), nn.Identity(), LayerNorm2d(c0))
        else:               # stem v1: conv 4x4/4, to NHWC, LayerNorm
            self.patch_embed = nn.Sequential(nn.Conv2d(3, c0, 4, 4), _ToNHWC(), nn.LayerNorm(c0))
        self.layers = nn.ModuleList()
        for i, (depth, dim) in enumerate(zip(depths, dims)):
            last = i == len(depths) - 1
            if last:
                down = nn.Identity()
            elif self.headline:  # downsample v3: conv 3x3/2 + LayerNorm2d
                down = nn.Sequential(nn.Identity(), nn.Conv2d(dim, 2 * dim, 3, 2, 1), nn.Identity(),
                                     LayerNorm2d(2 * dim))
            else:
                down = PatchMerging2D(dim)
            blocks = nn.Sequential(*[VSSBlock(dim, cfg) for _ in range(depth)])
            self.layers.append(nn.Sequential(OrderedDict(blocks=blocks, downsample=down)))
        self.classifier = nn.Sequential(OrderedDict(
            norm=LayerNorm2d(dims[-1]) if self.headline else nn.LayerNorm(dims[-1]),
            head=nn.Linear(dims[-1], num_classes)))

    def forward(self, x):
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(x)
        x = self.classifier.norm(x)
        x = x.mean(dim=(2, 3)) if self.headline else x.mean(dim=(1, 2))   # AdaptiveAvgPool2d(1) + Flatten
        return self.classifier.head(x)


class _ToNHWC(nn.Module):
    def forward(self, x):
        return x.permute(0, 2, 3, 1)


CONFIGS = {
    "vmamba-tiny": dict(version="v05_noz", depths=[2, 2, 8, 2], dims=[96, 192, 384, 768], d_state=1,
                        ssm_ratio=1.0, mlp_ratio=4.0),
    "vmamba-tiny-v0": dict(version="v0", depths=[2, 2, 9, 2], dims=[96, 192, 384, 768], d_state=16,
                           ssm_ratio=2.0, mlp_ratio=0.0),
    "vmamba-tiny-micro": dict(version="v05_noz", depths=[1, 1, 2, 1], dims=[8, 16, 32, 64], d_state=1,
                              ssm_ratio=1.0, mlp_ratio=4.0, num_classes=10),
    "vmamba-tiny-v0-micro": dict(version="v0", depths=[1, 1, 2, 1], dims=[8, 16, 32, 64], d_state=16,
                                 ssm_ratio=2.0, mlp_ratio=0.0, num_classes=10),
}
# Micro models default to a non-square size whose stage-2 map is odd (3x5), so the zoo exercises the
# (W, H) merge view and PatchMerging's padding.
SIZES = {"vmamba-tiny": (224, 224), "vmamba-tiny-v0": (224, 224),
         "vmamba-tiny-micro": (48, 80), "vmamba-tiny-v0-micro": (48, 80)}


def _last_dim_uniform(shape, gen):
    bound = 1.0 / math.sqrt(shape[-1])
    return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound


RANDOM_RULES = [
    ("*A_logs", log_uniform(0.5, 16.0)),
    ("*.Ds", uniform(0.5, 1.5)),
    ("*dt_projs_bias", dt_bias()),
    ("*x_proj_weight", _last_dim_uniform),
    ("*dt_projs_weight", _last_dim_uniform),
    ("*norm*.weight", uniform(0.5, 1.5)),
    ("patch_embed.[27].weight", uniform(0.5, 1.5)),
    ("layers.*.downsample.3.weight", uniform(0.5, 1.5)),
    ("*norm*.bias", normal(0.0, 0.1)),
    ("patch_embed.[27].bias", normal(0.0, 0.1)),
    ("*.bias", normal(0.0, 0.05)),
    ("*", fan_in_uniform),
]


def build(name, img_size=None):
    """VMamba works at any input size; img_size is accepted for a uniform interface."""
    return VSSM(**CONFIGS[name])


def default_size(name):
    return SIZES[name]


def random_init(model, seed):
    return randomize(model, seed, RANDOM_RULES)
