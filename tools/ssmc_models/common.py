"""Pieces shared by the model definitions: norms, checkpoint loading and seeded randomization."""
import fnmatch
import math

import torch
import torch.nn as nn


class RMSNorm(nn.Module):
    """y = x * rsqrt(mean(x^2) + eps) * weight over the last dim (no bias, no mean subtraction)."""

    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class LayerNorm2d(nn.LayerNorm):
    """Per-pixel LayerNorm over the channels of an NCHW tensor (not GroupNorm)."""

    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def load_checkpoint(model, path):
    """Loads a bare state_dict or one wrapped as {'model': ...} / {'state_dict': ...}, strips a
    'model.' prefix, and loads with strict=True."""
    obj = torch.load(path, map_location="cpu", weights_only=False)
    for key in ("model", "state_dict"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    state = {(k[len("model."):] if k.startswith("model.") else k): v for k, v in obj.items()}
    model.load_state_dict(state, strict=True)
    return model


def randomize(model, seed, rules):
    """Draws every parameter from a seeded generator, also those the official init sets to constants,
    so that swapped or dropped weights change the output. `rules` is a list of (glob, fn) checked in
    order; fn(shape, gen) returns a tensor; unmatched parameters get a fan-in-scaled uniform."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            for pattern, fn in rules:
                if fnmatch.fnmatch(name, pattern):
                    value = fn(tuple(p.shape), gen)
                    break
            else:
                value = fan_in_uniform(tuple(p.shape), gen)
            p.copy_(value.reshape(p.shape).to(p.dtype))
    return model


def uniform(lo, hi):
    return lambda shape, gen: torch.rand(shape, generator=gen, dtype=torch.float64) * (hi - lo) + lo


def normal(mean, std):
    return lambda shape, gen: torch.randn(shape, generator=gen, dtype=torch.float64) * std + mean


def fan_in_uniform(shape, gen):
    fan_in = math.prod(shape[1:]) if len(shape) > 1 else 16
    bound = 1.0 / math.sqrt(max(fan_in, 1))
    return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound


def log_uniform(lo, hi):
    """log of U(lo, hi): for A_log-style parameters."""
    return lambda shape, gen: torch.log(torch.rand(shape, generator=gen, dtype=torch.float64) * (hi - lo) + lo)


def dt_bias(dt_min=1e-3, dt_max=1e-1):
    """softplus^-1 of a log-uniform step in [dt_min, dt_max], like Mamba's dt init but per draw."""
    def draw(shape, gen):
        r = torch.rand(shape, generator=gen, dtype=torch.float64)
        dt = torch.exp(r * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        return dt + torch.log(-torch.expm1(-dt))
    return draw
