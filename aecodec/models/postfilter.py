"""A decoder-side enhancement filter: a small residual CNN after the synthesis transform.

Why: the synthesis of a frozen codec leaves structured errors (ringing, blur, blocking at low rates) that a
second network can learn to remove from (decoded, original) pairs alone. It changes only pixels, never symbols, so
files keep their bytes and parsing stays exact; it trains on decoded crops computed once, so a step costs a few
convolutions instead of a codec's forward and backward pass.

Layout: the image is folded 2x2 into 12 channels (``pixel_unshuffle``), so every 3x3 convolution runs on a quarter
of the positions with twice the reach; a learned per-level bias after the first layer tells the filter how
strong the coding noise is; the last layer starts at zero, so an untrained filter is the identity.

Depth comes from residual blocks (two 3x3 convolutions around a ReLU, added to their input) after the plain
layers: a plain stack of 8 layers barely trained (``docs/rd-levers.md``). A block's second convolution starts at
zero, so blocks added to a trained filter (``grow``) leave its output unchanged until they learn: a warm start.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class PostFilterConfig:
    levels: int = 10  # quality levels of the codec it follows
    channels: int = 48  # features of the hidden layers
    layers: int = 4  # plain 3x3 convolutions, first and last included
    blocks: int = 0  # residual blocks between the plain layers and the last one

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PostFilterConfig":
        return cls(**{k: int(v) for k, v in d.items()})


class PostFilter(nn.Module):
    def __init__(self, config: PostFilterConfig = PostFilterConfig()):
        super().__init__()
        c = config
        self.config = c
        self.head = nn.Conv2d(12, c.channels, 3, padding=1)
        self.level_bias = nn.Parameter(torch.zeros(c.levels, c.channels))
        self.body = nn.Sequential(*[m for _ in range(c.layers - 2)
                                    for m in (nn.Conv2d(c.channels, c.channels, 3, padding=1), nn.ReLU(inplace=True))])
        self.blocks = nn.ModuleList(ResBlock(c.channels) for _ in range(c.blocks))
        self.tail = nn.Conv2d(c.channels, 12, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def grow(self, blocks: int) -> "PostFilter":
        """This filter with ``blocks`` residual blocks in all: the new ones start as identities, so the grown
        filter computes exactly what this one does."""
        if blocks < self.config.blocks:
            raise ValueError(f"cannot grow a filter of {self.config.blocks} residual blocks to {blocks}")
        grown = PostFilter(replace(self.config, blocks=blocks))
        grown.load_state_dict(self.state_dict(), strict=False)
        return grown

    def bias_of(self, level: Tensor) -> Tensor:
        """Per-sample level bias [B, C] for float levels [B] (0-based): linear between trained levels, so a
        fractional quality gets a filter between its neighbours'."""
        lo = level.floor().long().clamp(0, self.config.levels - 2)
        t = (level - lo).unsqueeze(1)
        return (1 - t) * self.level_bias[lo] + t * self.level_bias[lo + 1]

    def forward(self, x: Tensor, level: Tensor, conv: Callable = F.conv2d) -> Tensor:
        """Decoded image [B, 3, H, W] (H, W even; not clamped) at float levels [B] -> filtered image. ``conv``
        (the signature of ``F.conv2d``) runs every convolution: the decoder passes one whose sums do not depend
        on the thread count (``aecodec.codecs.inference.conv2d``)."""
        f = F.pixel_unshuffle(x, 2).contiguous(memory_format=torch.channels_last)  # oneDNN's fast layout
        h = torch.relu(conv(f, self.head.weight, self.head.bias, 1, 1) + self.bias_of(level)[:, :, None, None])
        for m in self.body:
            h = conv(h, m.weight, m.bias, 1, 1) if isinstance(m, nn.Conv2d) else torch.relu(h)
        for b in self.blocks:
            h = h + conv(torch.relu(conv(h, b.a.weight, b.a.bias, 1, 1)), b.b.weight, b.b.bias, 1, 1)
        return x + F.pixel_shuffle(conv(h, self.tail.weight, self.tail.bias, 1, 1), 2).contiguous()


class ResBlock(nn.Module):
    """Two 3x3 convolutions around a ReLU, added to the input (``PostFilter.forward`` runs them); the second
    starts at zero, so a new block is the identity."""

    def __init__(self, channels: int):
        super().__init__()
        self.a = nn.Conv2d(channels, channels, 3, padding=1)
        self.b = nn.Conv2d(channels, channels, 3, padding=1)
        nn.init.zeros_(self.b.weight)
        nn.init.zeros_(self.b.bias)
