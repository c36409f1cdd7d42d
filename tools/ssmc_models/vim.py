"""Vision Mamba (Vim) with bimamba v2, middle cls token, RMSNorm, div-by-2 (spec: vim.md).

Inference only: the fast-path bimamba forward (both directions, /2), never the forward-only branch.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ssmc_export.selective_scan import selective_scan

from .common import RMSNorm, dt_bias, fan_in_uniform, log_uniform, normal, randomize, uniform


class PatchEmbed(nn.Module):
    def __init__(self, img_size, patch_size, stride, in_chans, dim):
        super().__init__()
        self.grid = ((img_size[0] - patch_size) // stride + 1, (img_size[1] - patch_size) // stride + 1)
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch_size, stride=stride)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)          # tokens row-major (h, w), channels last


class Mamba(nn.Module):
    """The bimamba-v2 mixer: shared in_proj/out_proj, separate conv/x_proj/dt_proj/A/D per direction."""

    def __init__(self, d_model, d_state=16, d_conv=4, expand=2):
        super().__init__()
        self.d_inner = expand * d_model
        self.d_state = d_state
        self.dt_rank = math.ceil(d_model / 16)
        e, n, r = self.d_inner, d_state, self.dt_rank
        # Registration order follows the official module so state_dict() lists keys in the same order.
        self.in_proj = nn.Linear(d_model, 2 * e, bias=False)
        self.conv1d = nn.Conv1d(e, e, d_conv, groups=e, padding=d_conv - 1, bias=True)
        self.x_proj = nn.Linear(e, r + 2 * n, bias=False)
        self.dt_proj = nn.Linear(r, e, bias=True)
        self.A_log = nn.Parameter(torch.zeros(e, n))
        self.D = nn.Parameter(torch.ones(e))
        self.A_b_log = nn.Parameter(torch.zeros(e, n))
        self.conv1d_b = nn.Conv1d(e, e, d_conv, groups=e, padding=d_conv - 1, bias=True)
        self.x_proj_b = nn.Linear(e, r + 2 * n, bias=False)
        self.dt_proj_b = nn.Linear(r, e, bias=True)
        self.D_b = nn.Parameter(torch.ones(e))
        self.out_proj = nn.Linear(e, d_model, bias=False)

    def _direction(self, xz, conv, x_proj, dt_proj, A_log, D):
        """mamba_inner_fn_no_out_proj on xz (B, 2E, L), one direction, without out_proj."""
        seq_len = xz.shape[-1]
        x, z = xz.chunk(2, dim=1)
        u = F.silu(conv(x)[..., :seq_len])                     # causal depthwise conv (pad K-1, keep first L)
        x_dbl = x_proj(u.transpose(1, 2))                      # (B, L, R+2N)
        dt, b, c = torch.split(x_dbl, [self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.linear(dt, dt_proj.weight).transpose(1, 2)   # (B, E, L); the bias goes to the scan
        b = b.transpose(1, 2).unsqueeze(1)                     # (B, 1, N, L): one group
        c = c.transpose(1, 2).unsqueeze(1)
        A = -torch.exp(A_log.float())
        return selective_scan(u, delta, A, b, c, D.float(), z, dt_proj.bias.float(), delta_softplus=True)

    def forward(self, h):
        xz = self.in_proj(h).transpose(1, 2)                   # (B, 2E, L)
        out_f = self._direction(xz, self.conv1d, self.x_proj, self.dt_proj, self.A_log, self.D)
        out_b = self._direction(xz.flip([-1]), self.conv1d_b, self.x_proj_b, self.dt_proj_b, self.A_b_log, self.D_b)
        y = (out_f + out_b.flip([-1])) / 2
        return self.out_proj(y.transpose(1, 2))


class Block(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.mixer = Mamba(dim)
        self.norm = RMSNorm(dim, eps)


class VisionMamba(nn.Module):
    def __init__(self, img_size=224, patch_size=16, stride=16, embed_dim=192, depth=24, num_classes=1000,
                 in_chans=3, eps=1e-5):
        super().__init__()
        img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.patch_embed = PatchEmbed(img_size, patch_size, stride, in_chans, embed_dim)
        num_patches = self.patch_embed.grid[0] * self.patch_embed.grid[1]
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim))
        self.head = nn.Linear(embed_dim, num_classes)
        self.layers = nn.ModuleList([Block(embed_dim, eps) for _ in range(depth)])
        self.norm_f = RMSNorm(embed_dim, eps)
        self.num_patches = num_patches

    def forward(self, x):
        x = self.patch_embed(x)                                # (B, M, D)
        p = self.num_patches // 2                              # middle cls token position
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([x[:, :p], cls, x[:, p:]], dim=1)
        x = x + self.pos_embed
        residual = x
        for layer in self.layers:                              # fused add+RMSNorm == plain pre-norm residual
            residual = residual + layer.mixer(layer.norm(residual))
        x = self.norm_f(residual)
        return self.head(x[:, p, :])


CONFIGS = {
    "vim-tiny": dict(embed_dim=192, depth=24, img_size=224),
    "vim-small": dict(embed_dim=384, depth=24, img_size=224),
    "vim-tiny-micro": dict(embed_dim=32, depth=2, img_size=64, num_classes=10),
    "vim-small-micro": dict(embed_dim=48, depth=3, img_size=48, num_classes=10),
}

RANDOM_RULES = [
    ("*A_log", log_uniform(0.5, 16.0)),
    ("*A_b_log", log_uniform(0.5, 16.0)),
    ("*.D", uniform(0.5, 1.5)),
    ("*.D_b", uniform(0.5, 1.5)),
    ("*dt_proj*.bias", dt_bias()),
    ("*norm*.weight", uniform(0.5, 1.5)),
    ("cls_token", normal(0.0, 0.5)),
    ("pos_embed", normal(0.0, 0.2)),
    ("*.bias", normal(0.0, 0.05)),
    ("*", fan_in_uniform),
]


def build(name, img_size=None):
    """Builds a registered Vim; img_size (int or (H, W)) overrides the config's (Vim fixes L at build time)."""
    cfg = dict(CONFIGS[name])
    if img_size is not None:
        cfg["img_size"] = img_size
    return VisionMamba(**cfg)


def random_init(model, seed):
    return randomize(model, seed, RANDOM_RULES)


def default_size(name):
    s = CONFIGS[name]["img_size"]
    return (s, s)
