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


# Rows: LL, LH, HL, HH over the 2x2 block read row by row (the order of pixel_unshuffle); orthonormal.
HAAR = torch.tensor([[1, 1, 1, 1], [1, 1, -1, -1], [1, -1, 1, -1], [1, -1, -1, 1]], dtype=torch.float32) / 2


def haar(x: Tensor) -> Tensor:
    """Orthonormal 2x2 Haar analysis: [B, C, H, W] -> [B, 4C, H/2, W/2] (H, W even), subbands of channel c at
    4c..4c+3. A reshape and a 4x4 mix: much cheaper on a CPU than a grouped strided convolution."""
    b, c, h, w = x.shape
    u = F.pixel_unshuffle(x, 2).view(b, c, 4, h // 2, w // 2)
    return torch.einsum("sk,bckhw->bcshw", HAAR.to(x), u).reshape(b, 4 * c, h // 2, w // 2)


def inverse_haar(x: Tensor) -> Tensor:
    """The exact inverse (and transpose) of ``haar``: [B, 4C, H, W] -> [B, C, 2H, 2W]."""
    b, c4, h, w = x.shape
    v = x.view(b, c4 // 4, 4, h, w)
    return F.pixel_shuffle(torch.einsum("sk,bcshw->bckhw", HAAR.to(x), v).reshape(b, c4, h, w), 2)


class HaarDown(nn.Module):
    """One analysis stage: Haar split, per-subband scale, orthogonal 1x1 projection to ``cout`` channels.
    All three are linear, so the forward pass runs them fused as one 2x2 stride-2 convolution (one fast
    kernel instead of three memory-bound passes); the parameters stay the factors."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1, 4 * cin, 1, 1))
        self.proj = nn.Conv2d(4 * cin, cout, 1, bias=False)
        nn.init.orthogonal_(self.proj.weight)

    def fused_weight(self) -> Tensor:
        """[cout, cin, 2, 2]: proj . scale . Haar."""
        cout, cin4 = self.proj.weight.shape[:2]
        w = (self.proj.weight[:, :, 0, 0] * self.scale.view(1, -1)).view(cout, cin4 // 4, 4)
        return (w @ HAAR.to(w)).view(cout, cin4 // 4, 2, 2)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.fused_weight(), stride=2)


class HaarUp(nn.Module):
    """One synthesis stage: orthogonal 1x1 projection to 4 x ``cout`` subbands, per-subband scale, inverse Haar;
    run fused as one 2x2 stride-2 transposed convolution."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.proj = nn.Conv2d(cin, 4 * cout, 1, bias=False)
        nn.init.orthogonal_(self.proj.weight)
        self.scale = nn.Parameter(torch.ones(1, 4 * cout, 1, 1))

    def fused_weight(self) -> Tensor:
        """[cin, cout, 2, 2]: inverse Haar . scale . proj."""
        cout4, cin = self.proj.weight.shape[:2]
        w = (self.proj.weight[:, :, 0, 0] * self.scale.view(-1, 1)).view(cout4 // 4, 4, cin)
        return torch.einsum("osi,sk->iok", w, HAAR.to(w)).reshape(cin, cout4 // 4, 2, 2)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv_transpose2d(x, self.fused_weight(), stride=2)


def linear_analysis(widths: list[int]) -> nn.Sequential:
    """Stages ``widths[0] -> widths[1] -> ...``, each halving the resolution."""
    return nn.Sequential(*[HaarDown(a, b) for a, b in zip(widths[:-1], widths[1:])])


def linear_synthesis(widths: list[int]) -> nn.Sequential:
    """Stages ``widths[0] -> widths[1] -> ...``, each doubling the resolution."""
    return nn.Sequential(*[HaarUp(a, b) for a, b in zip(widths[:-1], widths[1:])])
