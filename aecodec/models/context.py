"""Checkerboard context model (He et al., CVPR 2021) on top of the hyperprior's entropy parameters.

Why: the hyperprior predicts every latent from side information alone, so the spatial redundancy left between
neighbouring latents is paid for in bits. The checkerboard split codes half the latents (the *anchors*, where
row + column is even) exactly as the hyperprior does, then predicts the other half from the hyperprior's
parameters *and* the decoded anchors around them. Decoding stays two parallel passes (no raster-order loop), and
the transforms are untouched: a context model can be trained for an already-shipped model from its frozen
latents, which on this CPU costs minutes instead of the days a new transform costs.

The network sees ungained latents (its statistics are then the same at every quality) plus a learned per-level
bias, and outputs a correction to the hyperprior's (mean, scale); the last layer starts at zero, so an untrained
context model codes exactly like the hyperprior. ReLU only and 1x1 layers after the context convolution: its
integer twin (``aecodec.coding.fixedpoint.IntCheckerboard``) is exact.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class ContextConfig:
    M: int = 256  # latent channels of the base model
    levels: int = 10  # quality levels of the base model
    width: int = 192  # context features
    hidden: int = 384  # entropy-parameter network width
    kernel: int = 5

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ContextConfig":
        return cls(**{k: int(v) for k, v in d.items()})


def anchor_mask(h: int, w: int, device: torch.device | str = "cpu") -> Tensor:
    """[1, 1, h, w] bool: True where row + column is even (the anchors, coded first)."""
    i = torch.arange(h, device=device)[:, None]
    j = torch.arange(w, device=device)[None, :]
    return ((i + j) % 2 == 0)[None, None]


class CheckerboardContext(nn.Module):
    def __init__(self, config: ContextConfig = ContextConfig()):
        super().__init__()
        c = config
        self.config = c
        self.ctx = nn.Conv2d(c.M, c.width, c.kernel, padding=c.kernel // 2)
        self.level_bias = nn.Parameter(torch.zeros(c.levels, c.width))
        self.ep = nn.Sequential(
            nn.Conv2d(2 * c.M + c.width, c.hidden, 1), nn.ReLU(inplace=True),
            nn.Conv2d(c.hidden, c.hidden, 1), nn.ReLU(inplace=True),
            nn.Conv2d(c.hidden, 2 * c.M, 1),
        )
        nn.init.zeros_(self.ep[-1].weight)
        nn.init.zeros_(self.ep[-1].bias)

    def forward(self, anchors: Tensor, params: Tensor, level: Tensor) -> Tensor:
        """anchors: decoded ungained latents [B, M, h, w], zero off the anchors; params: the hyperprior's
        (mean, scale) [B, 2M, h, w]; level: [B] -> corrected (mean, scale) [B, 2M, h, w] (used off the anchors)."""
        feat = torch.relu(self.ctx(anchors) + self.level_bias[level][:, :, None, None])
        return params + self.ep(torch.cat([params, feat], 1))
