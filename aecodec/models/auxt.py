"""Wavelet-based linear shortcuts: a linear auxiliary transform beside the nonlinear ones (after AuxT, Li et al.,
arXiv 2501.13751).

Why: early in training most of the RD loss is energy compaction (decorrelating neighbouring pixels and giving
subbands unequal energy), which a linear wavelet transform does at once. A linear branch added to ``g_a`` and
``g_s`` hands the nonlinear transforms a coarse transform code from step 0, so they only learn the details;
the paper reports about 2x faster convergence. Each stage here is an orthonormal 2x2 Haar split (channels x4,
resolution /2), a learned per-subband scale, and a 1x1 projection initialised orthogonal; the synthesis branch
runs the mirror image (projection, scale, inverse Haar).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def haar_filters(channels: int) -> Tensor:
    """Depthwise orthonormal 2x2 Haar filters, [4 * channels, 1, 2, 2]: LL, LH, HL, HH per input channel."""
    k = torch.tensor([[[1, 1], [1, 1]], [[1, 1], [-1, -1]], [[1, -1], [1, -1]], [[1, -1], [-1, 1]]],
                     dtype=torch.float32) / 2
    return k[:, None].repeat(channels, 1, 1, 1)


def haar(x: Tensor, filters: Tensor) -> Tensor:
    """Orthonormal 2x2 Haar analysis: [B, C, H, W] -> [B, 4C, H/2, W/2] (H, W even)."""
    return F.conv2d(x, filters.to(x.dtype), stride=2, groups=x.shape[1])


def inverse_haar(x: Tensor, filters: Tensor) -> Tensor:
    """The exact inverse (and transpose) of ``haar``: [B, 4C, H, W] -> [B, C, 2H, 2W]."""
    return F.conv_transpose2d(x, filters.to(x.dtype), stride=2, groups=x.shape[1] // 4)


class HaarDown(nn.Module):
    """One analysis stage: Haar split, per-subband scale, orthogonal 1x1 projection to ``cout`` channels."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.register_buffer("filters", haar_filters(cin), persistent=False)
        self.scale = nn.Parameter(torch.ones(1, 4 * cin, 1, 1))
        self.proj = nn.Conv2d(4 * cin, cout, 1, bias=False)
        nn.init.orthogonal_(self.proj.weight)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(haar(x, self.filters) * self.scale)


class HaarUp(nn.Module):
    """One synthesis stage: orthogonal 1x1 projection to 4 x ``cout`` subbands, per-subband scale, inverse Haar."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.register_buffer("filters", haar_filters(cout), persistent=False)
        self.proj = nn.Conv2d(cin, 4 * cout, 1, bias=False)
        nn.init.orthogonal_(self.proj.weight)
        self.scale = nn.Parameter(torch.ones(1, 4 * cout, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return inverse_haar(self.proj(x) * self.scale, self.filters)


def linear_analysis(widths: list[int]) -> nn.Sequential:
    """Stages ``widths[0] -> widths[1] -> ...``, each halving the resolution."""
    return nn.Sequential(*[HaarDown(a, b) for a, b in zip(widths[:-1], widths[1:])])


def linear_synthesis(widths: list[int]) -> nn.Sequential:
    """Stages ``widths[0] -> widths[1] -> ...``, each doubling the resolution."""
    return nn.Sequential(*[HaarUp(a, b) for a, b in zip(widths[:-1], widths[1:])])
