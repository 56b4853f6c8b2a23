"""Integer hyper-synthesis: the decoder-side path that computes entropy parameters, in exact int64 arithmetic.

Float convolutions give slightly different sums on different machines, thread counts and devices; when those
sums pick the probability table of a symbol, the decoder desynchronises and prints garbage (CompressAI issues
54, 235, 279, 309). Here every value that parsing depends on is an integer: weights are fixed point with
``FRAC_W`` fractional bits, activations with ``FRAC_A``. Products are summed by float64 matrix multiplication
on integers whose every partial sum stays below 2^53 (checked per layer when it is built): each operation is
then exact, so any summation order, blocking or thread count gives the same bits, and BLAS keeps it fast. The float model is trained as usual; this module
is built from its (fp16-stored) weights at load time, deterministically.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

FRAC_W = 14  # weight fractional bits
FRAC_A = 10  # activation fractional bits (also of the predicted means and scales)
FRAC_G = 12  # gain fractional bits
ACT_LIMIT = 1 << 22  # activations are clamped to +-2^12 in real units, which bounds every partial sum
EXACT = 1 << 53  # float64 represents every integer below this exactly


def to_fixed(t: Tensor, frac: int) -> Tensor:
    """Round a float tensor to fixed point. Exact and platform independent for fp16/fp32 inputs: the
    float64 product by a power of two is exact, and round-half-even is IEEE-defined."""
    return torch.round(t.detach().to(torch.float64) * (1 << frac)).to(torch.int64)


def shift_round(x: Tensor, bits: int) -> Tensor:
    """Divide an int64 tensor by 2^bits, rounding half up (arithmetic shift: exact, order free)."""
    return (x + (1 << (bits - 1))) >> bits


def int_conv2d(x: Tensor, w: Tensor, stride: int, pad: tuple[int, int, int, int]) -> Tensor:
    """Integer 2-D convolution (cross-correlation) of int64 x [1, C, H, W] with int64 w [O, C, k, k].

    Exact when the caller bounds the sums (see ``IntLayer``)."""
    k = w.shape[-1]
    xp = F.pad(x.to(torch.float64), pad)
    cols = F.unfold(xp, k, stride=stride)[0]  # [C*k*k, L]
    out = (w.reshape(w.shape[0], -1).to(torch.float64) @ cols).to(torch.int64)
    h = (xp.shape[2] - k) // stride + 1
    wd = (xp.shape[3] - k) // stride + 1
    return out.reshape(1, w.shape[0], h, wd)


def int_conv_transpose2d(x: Tensor, w: Tensor, stride: int, padding: int, output_padding: int) -> Tensor:
    """Integer transposed convolution, as zero insertion followed by a convolution with the flipped kernel.
    ``w`` has the ConvTranspose2d layout [C_in, C_out, k, k]."""
    k = w.shape[-1]
    _, c, h, wd = x.shape
    up = torch.zeros(1, c, (h - 1) * stride + 1, (wd - 1) * stride + 1, dtype=torch.int64)
    up[:, :, ::stride, ::stride] = x
    lo = k - 1 - padding
    hi = lo + output_padding
    return int_conv2d(up, w.flip(2, 3).transpose(0, 1), 1, (lo, hi, lo, hi))


@dataclass
class IntLayer:
    weight: Tensor  # int64, FRAC_W fractional bits
    bias: Tensor  # int64, FRAC_A + FRAC_W fractional bits
    transposed: bool
    stride: int
    padding: int
    output_padding: int
    relu: bool

    def __post_init__(self) -> None:
        fan = self.weight.abs().transpose(0, 1) if self.transposed else self.weight.abs()
        bound = fan.flatten(1).sum(1).max().item() * ACT_LIMIT + self.bias.abs().max().item()
        if bound >= EXACT:
            raise ValueError(f"fixed-point layer may exceed 2^53 ({bound:.3g}): weights too large")

    def __call__(self, x: Tensor) -> Tensor:
        if self.transposed:
            acc = int_conv_transpose2d(x, self.weight, self.stride, self.padding, self.output_padding)
        else:
            p = self.padding
            acc = int_conv2d(x, self.weight, self.stride, (p, p, p, p))
        y = shift_round(acc + self.bias[None, :, None, None], FRAC_W)
        if self.relu:
            y = y.clamp_min(0)
        return y.clamp(-ACT_LIMIT, ACT_LIMIT)


class IntHyperSynthesis:
    """Exact integer twin of a ``Sequential`` of (transposed) convolutions and ReLUs."""

    def __init__(self, h_s: nn.Sequential):
        mods = list(h_s)
        self.layers: list[IntLayer] = []
        for i, m in enumerate(mods):
            if not isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                continue
            relu = i + 1 < len(mods) and isinstance(mods[i + 1], nn.ReLU)
            transposed = isinstance(m, nn.ConvTranspose2d)
            self.layers.append(IntLayer(
                to_fixed(m.weight, FRAC_W), to_fixed(m.bias, FRAC_W + FRAC_A), transposed, m.stride[0],
                m.padding[0], m.output_padding[0] if transposed else 0, relu))

    def __call__(self, x: Tensor) -> Tensor:
        """x: int64 [1, C, h, w] with FRAC_A fractional bits -> int64 output with FRAC_A fractional bits."""
        x = x.clamp(-ACT_LIMIT, ACT_LIMIT)
        for layer in self.layers:
            x = layer(x)
        return x
