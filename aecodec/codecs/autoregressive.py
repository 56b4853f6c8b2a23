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

from ..coding.fixedpoint import ACT_LIMIT, FRAC_A, IntContextModel
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


class WavefrontPass:
    """``aecodec.codecs.latents.LatentPass`` of an autoregressive context model. The side information's
    ``params`` are the hyper-synthesis' features (not yet a mean and a scale)."""

    def __init__(self, model: IntContextModel, hyper: HyperPath):
        self.model, self.hyper = model, hyper

    def _run(self, side: Side, quality16: int, symbols_at: Callable[[Tensor, Tensor, Tensor], Tensor]
             ) -> tuple[Tensor, Tensor, list[Tensor]]:
        """Visit the wavefronts in order. ``symbols_at(positions, scale indexes [C, n], gained means [C, n])``
        gives the symbols there (quantized by the encoder, read by the decoder) -> (symbols, gained means,
        both [1, C, h, w], and the scale indexes of each step)."""
        params = side.params[0]
        h, w = params.shape[-2:]
        r = self.model.kernel // 2
        wp = w + 2 * r
        channels = self.model.context.weight.shape[1]
        decoded = torch.zeros(channels, (h + 2 * r) * wp, dtype=torch.int64)  # FRAC_A, zero-padded by r
        offsets = torch.tensor([(di - r) * wp + (dj - r) for di, dj in self.model.taps])
        hyper_acc = self.model.hyper_part(params.reshape(params.shape[0], -1))
        symbols = torch.zeros(channels, h * w, dtype=torch.int64)
        means = torch.zeros_like(symbols)
        steps = []
        for pos in wavefronts(h, w, r + 1):
            centre = (pos // w + r) * wp + pos % w + r
            cols = decoded[:, centre[None, :] + offsets[:, None]].reshape(-1, pos.numel())
            scale, mean = self.model(cols, hyper_acc[:, pos]).chunk(2, 0)
            idx, mean = self.hyper.gained(torch.cat([mean, scale])[None], quality16)
            s = symbols_at(pos, idx[0], mean[0])
            symbols[:, pos], means[:, pos] = s, mean[0]
            decoded[:, centre] = (s * (1 << FRAC_A) + mean[0]).clamp(-ACT_LIMIT, ACT_LIMIT)
            steps.append(idx[0])
        return symbols.view(1, channels, h, w), means.view(1, channels, h, w), steps

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
