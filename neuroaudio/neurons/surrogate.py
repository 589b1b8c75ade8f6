"""Heaviside spike functions with surrogate gradients (torch).

Forward: ``S = Θ(x)`` (1 where ``x >= 0``, else 0). Backward: the derivative of a smooth
stand-in, selected by name:

- ``"atan"``: d/dx = α / (2 (1 + (π α x / 2)²)) (SpikingJelly's default shape), α = 2.
- ``"sigmoid"``: d/dx = α σ(αx)(1 − σ(αx)), α = 4.
- ``"rect"``: d/dx = 1/α on |x| < α/2 (boxcar), α = 1.
- ``"double_gaussian"``: the D-RF paper's choice (Yin et al. 2021 shape):
  d/dx = (1 + h) G(x; 0, σ) − h G(x; σs, sσ) − h G(x; −σs, sσ), with σ = 0.5, h = 0.15, s = 6.

``x`` is the distance to threshold (membrane potential minus threshold), in threshold units.
"""

from __future__ import annotations

import math

import torch


def _gauss(x: torch.Tensor, mu: float, sigma: float) -> torch.Tensor:
    return torch.exp(-((x - mu) ** 2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))


def surrogate_grad(x: torch.Tensor, kind: str, alpha: float | None = None) -> torch.Tensor:
    """The surrogate derivative dS/dx evaluated at ``x`` (same shape)."""
    if kind == "atan":
        a = 2.0 if alpha is None else alpha
        return a / 2 / (1 + (math.pi / 2 * a * x) ** 2)
    if kind == "sigmoid":
        a = 4.0 if alpha is None else alpha
        s = torch.sigmoid(a * x)
        return a * s * (1 - s)
    if kind == "rect":
        a = 1.0 if alpha is None else alpha
        return (x.abs() < a / 2).to(x.dtype) / a
    if kind == "double_gaussian":
        sigma = 0.5 if alpha is None else alpha
        h, s = 0.15, 6.0
        return ((1 + h) * _gauss(x, 0.0, sigma) - h * _gauss(x, s * sigma, s * sigma)
                - h * _gauss(x, -s * sigma, s * sigma))
    raise ValueError(f"unknown surrogate '{kind}': use atan, sigmoid, rect or double_gaussian")


class _SpikeFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, kind: str, alpha: float | None) -> torch.Tensor:  # noqa: D102
        ctx.save_for_backward(x)
        ctx.kind, ctx.alpha = kind, alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # noqa: D102
        (x,) = ctx.saved_tensors
        return grad_out * surrogate_grad(x, ctx.kind, ctx.alpha), None, None


def spike(x: torch.Tensor, kind: str = "atan", alpha: float | None = None) -> torch.Tensor:
    """Θ(x) with the surrogate gradient ``kind`` (see module docstring)."""
    return _SpikeFn.apply(x, kind, alpha)
