"""The autoregressive latent pass (Minnen et al. 2018's joint model, CompressAI's mbt2018 and cheng2020), decoded
in wavefronts.

Every latent position's mean and scale come from the hyperprior's features at that position and from the
already decoded latents under a causal k x k mask: the rows above (up to k//2 columns to the right) and the
positions to the left. So a position (i, j) needs only positions of a smaller ``(k//2 + 1) * i + j``: all
positions of one such value ("a wavefront", 3i + j for CompressAI's 5x5 masks) are independent and are decoded
together, in one gather, a few integer matrix products and one coder call: 3h + w steps instead of h * w.
The encoder codes the symbols in the same order. Every number that parsing depends on is an integer
(``aecodec.coding.fixedpoint.IntContextModel``), so every machine computes the same table for every symbol.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import torch
from torch import Tensor

from ..coding.fixedpoint import ACT_LIMBS, ACT_LIMIT, FRAC_A, IntContextModel, limbs
from ..coding.rans import RansCoder
from .latents import HyperPath, Side, symbols_of


@lru_cache(maxsize=64)
def wavefronts(h: int, w: int, slope: int) -> tuple[Tensor, ...]:
    """Row-major flat positions of an h x w grid grouped by ``slope * i + j``, in increasing order."""
    i, j = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    t = (slope * i + j).reshape(-1)
    order = torch.argsort(t, stable=True)
    counts = torch.bincount(t).tolist()
    return tuple(p for p in order.split(counts) if p.numel())


@lru_cache(maxsize=16)
def steps_of(h: int, w: int, r: int, taps: tuple[tuple[int, int], ...]) -> tuple[Tensor, list[tuple[Tensor, ...]]]:
    """The wavefronts of an h x w grid, computed once per grid: (all positions in wavefront order, and per
    wavefront: its positions' flat indexes in the grid zero-padded by r, and those of their causal taps,
    tap-major [taps * n])."""
    wp = w + 2 * r
    offsets = torch.tensor([(di - r) * wp + (dj - r) for di, dj in taps])
    fronts = wavefronts(h, w, r + 1)
    out = []
    for pos in fronts:
        centre = (pos // w + r) * wp + pos % w + r
        out.append((centre, (centre[None, :] + offsets[:, None]).reshape(-1)))
    return torch.cat(fronts), out


class WavefrontPass:
    """``aecodec.codecs.latents.LatentPass`` of an autoregressive context model. The side information's
    ``params`` are the hyper-synthesis' features (not yet a mean and a scale)."""

    def __init__(self, model: IntContextModel, hyper: HyperPath):
        self.model, self.hyper = model, hyper

    def _run(self, side: Side, quality16: int, symbols_at: Callable[[Tensor, Tensor, Tensor], Tensor]
             ) -> tuple[Tensor, Tensor, list[Tensor]]:
        """Visit the wavefronts in order. ``symbols_at(positions, scale indexes [C, n], gained means [C, n])``
        gives the symbols there (quantized by the encoder, read by the decoder) -> (symbols, gained means,
        both [1, C, h, w], and the scale indexes of each step).

        The decoded latents are kept position-major as the digits the context's integer products take
        (``limbs``): each is split once, when it is decoded, and a step gathers whole rows."""
        params = side.params[0]
        h, w = params.shape[-2:]
        r = self.model.kernel // 2
        channels = self.model.context.weight.shape[1]
        order, fronts = steps_of(h, w, r, tuple(self.model.taps))
        decoded = torch.zeros((h + 2 * r) * (w + 2 * r), ACT_LIMBS, channels, dtype=torch.int8)  # zero-padded
        used = 1  # digits that are not all zero so far
        hyper_acc = self.model.hyper_part(params.reshape(params.shape[0], -1)[:, order])
        symbols, means, steps, start = [], [], [], 0
        for centre, taps in fronts:
            n = centre.numel()
            pos = order[start:start + n]
            cols = decoded[taps, :used].view(-1, n, used, channels).permute(0, 3, 2, 1).reshape(-1, used, n)
            scale, mean = self.model(cols, hyper_acc[:, start:start + n]).chunk(2, 0)
            idx, mean = self.hyper.gained(torch.cat([mean, scale])[None], quality16)
            s = symbols_at(pos, idx[0], mean[0])
            value = (s * (1 << FRAC_A) + mean[0]).clamp(-ACT_LIMIT, ACT_LIMIT)
            decoded[centre] = digits = limbs(value, ACT_LIMBS).permute(2, 0, 1)
            while used < ACT_LIMBS and digits[:, used:].any():
                used += 1
            symbols.append(s)
            means.append(mean[0])
            steps.append(idx[0])
            start += n
        grid = torch.zeros(2, channels, h * w, dtype=torch.int64)
        grid[:, :, order] = torch.stack([torch.cat(symbols, 1), torch.cat(means, 1)])
        return grid[0].view(1, channels, h, w), grid[1].view(1, channels, h, w), steps

    def _quantize(self, y_g: Tensor, side: Side, quality16: int) -> tuple[Tensor, Tensor, list[Tensor]]:
        flat = y_g[0].reshape(y_g.shape[1], -1)
        return self._run(side, quality16, lambda pos, idx, mean: symbols_of(flat[:, pos], mean))

    def quantize(self, y_g: Tensor, side: Side, quality16: int) -> tuple[Tensor, Tensor]:
        symbols, means, _ = self._quantize(y_g, side, quality16)
        return symbols, means

    def code(self, y_g: Tensor, side: Side, quality16: int, coder: RansCoder) -> tuple[bytes, Tensor]:
        symbols, _, steps = self._quantize(y_g, side, quality16)
        flat = symbols[0].reshape(symbols.shape[1], -1)
        order = torch.cat([flat[:, pos].reshape(-1) for pos in wavefronts(*symbols.shape[-2:],
                                                                             self.model.kernel // 2 + 1)])
        return coder.encode(order, torch.cat([idx.reshape(-1) for idx in steps])), symbols

    def parse(self, stream: bytes, side: Side, quality16: int, coder: RansCoder) -> tuple[Tensor, Tensor]:
        h, w = side.params.shape[-2:]
        read = coder.reader(stream, self.model.context.weight.shape[1] * h * w)
        symbols, means, _ = self._run(side, quality16, lambda pos, idx, mean: read(idx))
        return symbols, means
