"""Latent coders: the part of an image codec between the analysis and the synthesis transforms.

A latent coder turns a batch of latents into each image's entropy-coded streams (``Coded``) and back, with every
number that parsing depends on an integer, so any machine decodes the same symbols:

- ``GaussianLatents``: a hyper-latent (``HyperPath``: z under a factorized table, then an integer
  hyper-synthesis) gives each latent a mean and a scale index; the latent symbols are then coded by a *pass*:
  ``PlainPass`` (all under the hyperprior's parameters), ``aecodec.codecs.checkerboard.CheckerboardPass`` (a
  second, context-predicted half), or any other object with the same three methods;
- ``FactorizedLatents``: one factorized table per channel, no side information.

``aecodec.codecs.vq.VQLatents`` is a third kind. Each coder also says how its decoded latents feed the synthesis
(``to_synthesis``): variable-rate models undo their quality's gain there.
"""
from __future__ import annotations

import zlib
from typing import NamedTuple, Protocol

import torch
from torch import Tensor, nn

from ..coding.fixedpoint import FRAC_A, FRAC_G, IntHyperSynthesis, shift_round
from ..coding.rans import RansCoder
from ..contract import Coded, Refine
from ..errors import FormatError
from .gains import Gains


def digest(symbols: Tensor) -> int:
    """CRC-32 of symbols (little-endian int32): lets the decoder prove it parsed what the encoder wrote."""
    return zlib.crc32(symbols.to(torch.int32).numpy().astype("<i4").tobytes())


def channel_indexes(shape: tuple[int, ...]) -> Tensor:
    """Table index of every element of [1, C, h, w]: its channel (per-channel factorized tables)."""
    return torch.arange(shape[1]).view(1, -1, 1, 1).expand(shape)


class Side(NamedTuple):
    """What the hyper-latent tells the decoder about the latent, all integers (FRAC_A fixed point): z symbols,
    the ungained (mean, scale) [1, 2M, h, w], and for the quality the scale table indexes and gained means;
    under the "features" layout, ``params`` are features for a context model and the last two are None."""

    z_symbols: Tensor
    params: Tensor
    scale_index: Tensor | None
    mean: Tensor | None


class HyperPath:
    """z <-> its stream, and the latent's exact entropy parameters from z.

    ``layout`` says how the hyper-synthesis lays out its output: "mean_scale" (this project's models),
    "scale_mean" (CompressAI's mbt2018-mean), "scale" (zero means, CompressAI's bmshj2018-hyperprior) or
    "features" (the input of a context model: ``aecodec.codecs.autoregressive``).
    ``medians`` [N]: z symbols are offsets from these (FRAC_A fixed point): CompressAI's bottleneck medians, or
    zeros for this project's models.
    ``abs_input``: the hyper-analysis sees |y| (bmshj2018-hyperprior)."""

    def __init__(self, h_a: nn.Module, h_s: IntHyperSynthesis, table, scale_bounds: Tensor, gains: Gains,
                 medians: Tensor, layout: str = "mean_scale", abs_input: bool = False):
        self.h_a, self.h_s, self.gains, self.layout, self.abs_input = h_a, h_s, gains, layout, abs_input
        self.coder = RansCoder(table)
        self.scale_bounds, self.medians = scale_bounds.long(), medians.long()

    def latent(self, y: Tensor, quality16: int) -> Tensor:
        """Latent [B, M, h, w] -> gained hyper-latent (float, before rounding): the encoder's side."""
        return self.h_a(y.abs() if self.abs_input else y) * self.gains.hyper(quality16)

    def symbols(self, z: Tensor) -> Tensor:
        """Gained hyper-latent -> its integer symbols."""
        m = self.medians.view(1, -1, 1, 1).to(torch.float64) / (1 << FRAC_A)
        return torch.round(z.cpu().to(torch.float64) - m).to(torch.int64)

    def side(self, z_symbols: Tensor, quality16: int) -> Side:
        """z symbols [1, N, h, w] -> ``Side``, in integers only."""
        ihg = self.gains.inv_hyper_int(quality16)[None, :, None, None]
        params = self.h_s(z_symbols * ihg + self.medians.view(1, -1, 1, 1))
        if self.layout == "features":
            return Side(z_symbols, params, None, None)
        if self.layout == "scale_mean":
            params = torch.cat(params.chunk(2, 1)[::-1], 1)
        elif self.layout == "scale":
            params = torch.cat([torch.zeros_like(params), params], 1)
        return Side(z_symbols, params, *self.gained(params, quality16))

    def gained(self, params: Tensor, quality16: int) -> tuple[Tensor, Tensor]:
        """Ungained (mean, scale) along dim 1 -> (scale table indexes, gained means), FRAC_A fixed point."""
        mu, sigma = params.chunk(2, 1)
        g = self.gains.latent_int(quality16).view((1, -1) + (1,) * (params.dim() - 2))
        sigma_g = shift_round(sigma * g, FRAC_G)
        idx = torch.searchsorted(self.scale_bounds, sigma_g.reshape(-1).contiguous()).reshape(sigma_g.shape)
        return idx, shift_round(mu * g, FRAC_G)

    def encode(self, z: Tensor, quality16: int) -> tuple[bytes, Side]:
        """Gained hyper-latent [1, N, h, w] -> (z stream, the side information the latent is coded under)."""
        side = self.side(self.symbols(z), quality16)
        return self.coder.encode(side.z_symbols, channel_indexes(side.z_symbols.shape)), side

    def decode(self, stream: bytes, check: int, shape: tuple[int, int], quality16: int) -> Side:
        """Decoder side of ``encode`` for a hyper grid of ``shape`` (h, w); z checked against its digest."""
        z = self.coder.decode(stream, channel_indexes((1, self.medians.numel(), *shape)))
        if digest(z) != check:
            raise FormatError("corrupted .aec payload: hyper-latent symbols fail their check")
        return self.side(z, quality16)


def symbols_of(y_g: Tensor, mean: Tensor) -> Tensor:
    """The integers coded for gained latents (float64) under gained means (FRAC_A fixed point)."""
    return torch.round(y_g - mean.to(torch.float64) / (1 << FRAC_A)).to(torch.int64)


def dequantize(symbols: Tensor, mean: Tensor) -> Tensor:
    """Symbols and gained means (FRAC_A fixed point) -> the decoded gained latent, float64."""
    return symbols.to(torch.float64) + mean.to(torch.float64) / (1 << FRAC_A)


class LatentPass(Protocol):
    """How a ``GaussianLatents`` codes the latent symbols under the side information."""

    def quantize(self, y_g: Tensor, side: Side, quality16: int) -> tuple[Tensor, Tensor]:
        """Gained latent -> (symbols, the gained means they are offsets from): the decoder's latent."""
        ...

    def code(self, y_g: Tensor, side: Side, quality16: int, coder: RansCoder) -> tuple[bytes, Tensor]: ...

    def parse(self, stream: bytes, side: Side, quality16: int, coder: RansCoder) -> tuple[Tensor, Tensor]: ...


class PlainPass:
    """Every latent under the hyperprior's own parameters (Minnen et al. 2018's mean-scale hyperprior)."""

    def quantize(self, y_g: Tensor, side: Side, quality16: int) -> tuple[Tensor, Tensor]:
        return symbols_of(y_g, side.mean), side.mean

    def code(self, y_g: Tensor, side: Side, quality16: int, coder: RansCoder) -> tuple[bytes, Tensor]:
        symbols = symbols_of(y_g, side.mean)
        return coder.encode(symbols, side.scale_index), symbols

    def parse(self, stream: bytes, side: Side, quality16: int, coder: RansCoder) -> tuple[Tensor, Tensor]:
        return coder.decode(stream, side.scale_index), side.mean


class GaussianLatents:
    """Latents under Gaussians whose parameters come from a hyper-latent: streams [z, y] per image."""

    downsampling = 4  # latent positions per hyper-latent position, per side
    rate_steps = None

    def __init__(self, hyper: HyperPath, coder: RansCoder, latent_pass: LatentPass | None = None):
        self.hyper, self.gains, self.coder = hyper, hyper.gains, coder
        self.latent_pass = latent_pass or PlainPass()

    def with_pass(self, latent_pass: LatentPass) -> "GaussianLatents":
        """The same hyper path and tables with another latent pass."""
        return GaussianLatents(self.hyper, self.coder, latent_pass)

    def gained(self, y: Tensor, quality16: int) -> Tensor:
        """Latent -> gained latent, float64 on the CPU: what the symbols are rounded from."""
        return y.cpu().to(torch.float64) * self.gains.latent(quality16)

    def encode(self, y: Tensor, quality16: int, refine: Refine | None = None) -> list[Coded]:
        """Latents [B, M, h, w] -> each image's ``Coded``. The hyper-analysis runs once for the batch;
        ``refine`` may change each image's latents before they are coded."""
        z = self.hyper.latent(y, quality16)
        out = []
        for b in range(y.shape[0]):
            y_g, z_b = self.gained(y[b:b + 1], quality16), z[b:b + 1]
            if refine is not None:
                y_g, z_b = refine(b, y_g, z_b)
            out.append(self.code(y_g, z_b, quality16))
        return out

    def code(self, y_g: Tensor, z: Tensor, quality16: int) -> Coded:
        z_stream, side = self.hyper.encode(z, quality16)
        y_stream, symbols = self.latent_pass.code(y_g, side, quality16, self.coder)
        return Coded([z_stream, y_stream], (digest(side.z_symbols), digest(symbols)))

    def quantized(self, y: Tensor, quality16: int) -> Tensor:
        """Latent [1, M, h, w] -> exactly the gained latent a decoder reconstructs, without entropy coding (the
        inputs of decoder-side training)."""
        side = self.hyper.side(self.hyper.symbols(self.hyper.latent(y, quality16)), quality16)
        return dequantize(*self.latent_pass.quantize(self.gained(y, quality16), side, quality16))

    def decode(self, item: Coded, shape: tuple[int, int], quality16: int) -> Tensor:
        """One image's streams on a latent grid of ``shape`` -> its decoded gained latent, float64."""
        (z_stream, y_stream), (z_check, y_check) = item.streams, item.digests
        h, w = shape
        side = self.hyper.decode(z_stream, z_check, (h // self.downsampling, w // self.downsampling), quality16)
        symbols, mean = self.latent_pass.parse(y_stream, side, quality16, self.coder)
        if digest(symbols) != y_check:
            raise FormatError("corrupted .aec payload: latent symbols fail their check")
        return dequantize(symbols, mean)

    def to_synthesis(self, y_hat: Tensor, quality16: int, device: torch.device) -> Tensor:
        """Decoded gained latents -> the synthesis' input: the quality's inverse gain undone."""
        return y_hat.float().to(device) * self.gains.inverse(quality16)


class FactorizedLatents:
    """Every latent channel under its own factorized table, symbols offset from its median (CompressAI's
    bmshj2018-factorized): one stream per image."""

    downsampling = 1
    rate_steps = None

    def __init__(self, medians: Tensor, table):
        self.medians = medians.long()
        self.coder = RansCoder(table)

    def _median(self) -> Tensor:
        return self.medians.view(1, -1, 1, 1).to(torch.float64) / (1 << FRAC_A)

    def encode(self, y: Tensor, quality16: int, refine: Refine | None = None) -> list[Coded]:
        if refine is not None:
            raise ValueError("a factorized prior has no latent refinement")
        out = []
        for b in range(y.shape[0]):
            s = torch.round(y[b:b + 1].cpu().to(torch.float64) - self._median()).long()
            out.append(Coded([self.coder.encode(s, channel_indexes(s.shape))], (digest(s),)))
        return out

    def decode(self, item: Coded, shape: tuple[int, int], quality16: int) -> Tensor:
        s = self.coder.decode(item.streams[0], channel_indexes((1, self.medians.numel(), *shape)))
        if digest(s) != item.digests[0]:
            raise FormatError("corrupted .aec payload: latent symbols fail their check")
        return s.to(torch.float64) + self._median()

    def to_synthesis(self, y_hat: Tensor, quality16: int, device: torch.device) -> Tensor:
        return y_hat.float().to(device)
