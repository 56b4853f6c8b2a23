"""Cheng et al. 2020's transforms (arXiv 2001.01568): residual blocks of 3x3 convolutions, sub-pixel upsampling
and simplified attention, as in CompressAI's ``cheng2020-anchor`` and ``cheng2020-attn``.

The modules and their parameter names are CompressAI's, so its state_dicts load unchanged; they are rebuilt here
from the paper's structure with this project's GDN so that decoding an imported model loads no CompressAI.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .gdn import GDN


def conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


def conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, stride=stride)


def subpel_conv3x3(cin: int, cout: int, r: int) -> nn.Sequential:
    """Upsampling by ``r``: a 3x3 convolution to ``cout * r^2`` channels, then a pixel shuffle."""
    return nn.Sequential(nn.Conv2d(cin, cout * r * r, 3, padding=1), nn.PixelShuffle(r))


class ResidualBlockWithStride(nn.Module):
    """Downsampling residual block: conv (strided), LeakyReLU, conv, GDN, plus a strided 1x1 shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 2):
        super().__init__()
        self.conv1, self.leaky_relu = conv3x3(cin, cout, stride), nn.LeakyReLU(inplace=True)
        self.conv2, self.gdn = conv3x3(cout, cout), GDN(cout)
        self.skip = conv1x1(cin, cout, stride) if stride != 1 or cin != cout else None

    def forward(self, x: Tensor) -> Tensor:
        out = self.gdn(self.conv2(self.leaky_relu(self.conv1(x))))
        return out + (self.skip(x) if self.skip is not None else x)


class ResidualBlockUpsample(nn.Module):
    """Upsampling residual block: sub-pixel conv, LeakyReLU, conv, inverse GDN, plus a sub-pixel shortcut."""

    def __init__(self, cin: int, cout: int, upsample: int = 2):
        super().__init__()
        self.subpel_conv, self.leaky_relu = subpel_conv3x3(cin, cout, upsample), nn.LeakyReLU(inplace=True)
        self.conv, self.igdn = conv3x3(cout, cout), GDN(cout, inverse=True)
        self.upsample = subpel_conv3x3(cin, cout, upsample)

    def forward(self, x: Tensor) -> Tensor:
        return self.igdn(self.conv(self.leaky_relu(self.subpel_conv(x)))) + self.upsample(x)


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with LeakyReLUs around an identity (or 1x1) shortcut."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1, self.leaky_relu, self.conv2 = conv3x3(cin, cout), nn.LeakyReLU(inplace=True), conv3x3(cout, cout)
        self.skip = conv1x1(cin, cout) if cin != cout else None

    def forward(self, x: Tensor) -> Tensor:
        out = self.leaky_relu(self.conv2(self.leaky_relu(self.conv1(x))))
        return out + (self.skip(x) if self.skip is not None else x)


class ResidualUnit(nn.Module):
    """1x1 (halving), 3x3, 1x1 (restoring) with ReLUs, an identity shortcut, then a ReLU."""

    def __init__(self, n: int):
        super().__init__()
        self.conv = nn.Sequential(conv1x1(n, n // 2), nn.ReLU(inplace=True), conv3x3(n // 2, n // 2),
                                  nn.ReLU(inplace=True), conv1x1(n // 2, n))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.conv(x) + x)


class AttentionBlock(nn.Module):
    """Simplified attention: a trunk of residual units gated by a sigmoid mask branch, plus the input."""

    def __init__(self, n: int):
        super().__init__()
        self.conv_a = nn.Sequential(ResidualUnit(n), ResidualUnit(n), ResidualUnit(n))
        self.conv_b = nn.Sequential(ResidualUnit(n), ResidualUnit(n), ResidualUnit(n), conv1x1(n, n))

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_a(x) * torch.sigmoid(self.conv_b(x)) + x


def analysis(N: int, attention: bool = False) -> nn.Sequential:
    """Image -> latent [N, H/16, W/16]."""
    layers: list[nn.Module] = [ResidualBlockWithStride(3, N), ResidualBlock(N, N), ResidualBlockWithStride(N, N)]
    if attention:
        layers.append(AttentionBlock(N))
    layers += [ResidualBlock(N, N), ResidualBlockWithStride(N, N), ResidualBlock(N, N), conv3x3(N, N, 2)]
    if attention:
        layers.append(AttentionBlock(N))
    return nn.Sequential(*layers)


def synthesis(N: int, attention: bool = False) -> nn.Sequential:
    """Latent -> image (not clamped)."""
    layers: list[nn.Module] = [AttentionBlock(N)] if attention else []
    layers += [ResidualBlock(N, N), ResidualBlockUpsample(N, N), ResidualBlock(N, N), ResidualBlockUpsample(N, N)]
    if attention:
        layers.append(AttentionBlock(N))
    layers += [ResidualBlock(N, N), ResidualBlockUpsample(N, N), ResidualBlock(N, N), subpel_conv3x3(N, 3, 2)]
    return nn.Sequential(*layers)


def hyper_analysis(N: int) -> nn.Sequential:
    """Latent -> hyper-latent: five 3x3 convolutions, two of them strided, LeakyReLUs between."""
    convs = [conv3x3(N, N), conv3x3(N, N), conv3x3(N, N, 2), conv3x3(N, N), conv3x3(N, N, 2)]
    layers: list[nn.Module] = []
    for i, c in enumerate(convs):
        layers += [c, nn.LeakyReLU(inplace=True)] if i < len(convs) - 1 else [c]
    return nn.Sequential(*layers)
