"""Generalized divisive normalization (Ballé, Laparra and Simoncelli 2016), GDN and its inverse.

Why our own: the coding path needs only this layer of CompressAI's, and importing CompressAI's package costs a
user seconds on every start (its ``__init__`` pulls in its datasets, losses and their dependencies). This layer
computes exactly what ``compressai.layers.GDN`` does, with the same parameters and state-dict names (``beta``,
``gamma`` stored reparametrized, ``beta_reparam.*``/``gamma_reparam.*`` buffers), so weights and checkpoints move
between the two unchanged.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

REPARAM_OFFSET = 2.0 ** -18


class _LowerBoundFunction(torch.autograd.Function):
    """max(x, bound), with the gradient let through where it moves x up towards the bound (so a parameter at
    its floor can still leave it)."""

    @staticmethod
    def forward(ctx, x: Tensor, bound: Tensor) -> Tensor:
        ctx.save_for_backward(x, bound)
        return torch.max(x, bound)

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, bound = ctx.saved_tensors
        return ((x >= bound) | (grad < 0)) * grad, None


class LowerBound(nn.Module):
    def __init__(self, bound: float):
        super().__init__()
        self.register_buffer("bound", torch.Tensor([float(bound)]))

    def forward(self, x: Tensor) -> Tensor:
        return _LowerBoundFunction.apply(x, self.bound)


class NonNegative(nn.Module):
    """A parameter stored as the square root of (value + pedestal): it stays at or above ``minimum`` and
    trains stably near zero."""

    def __init__(self, minimum: float = 0.0):
        super().__init__()
        self.register_buffer("pedestal", torch.Tensor([REPARAM_OFFSET ** 2]))
        self.lower_bound = LowerBound((float(minimum) + REPARAM_OFFSET ** 2) ** 0.5)

    def init(self, x: Tensor) -> Tensor:
        return torch.sqrt(torch.max(x + self.pedestal, self.pedestal))

    def forward(self, x: Tensor) -> Tensor:
        return self.lower_bound(x) ** 2 - self.pedestal


class GDN(nn.Module):
    """y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2); with ``inverse`` (IGDN) x_i times that root."""

    def __init__(self, channels: int, inverse: bool = False, beta_min: float = 1e-6, gamma_init: float = 0.1):
        super().__init__()
        self.inverse = bool(inverse)
        self.beta_reparam = NonNegative(beta_min)
        self.beta = nn.Parameter(self.beta_reparam.init(torch.ones(channels)))
        self.gamma_reparam = NonNegative()
        self.gamma = nn.Parameter(self.gamma_reparam.init(gamma_init * torch.eye(channels)))

    def forward(self, x: Tensor) -> Tensor:
        c = x.shape[1]
        gamma = self.gamma_reparam(self.gamma).reshape(c, c, 1, 1)
        norm = F.conv2d(x ** 2, gamma, self.beta_reparam(self.beta))
        return x * (torch.sqrt(norm) if self.inverse else torch.rsqrt(norm))
