"""The one codec contract: what ``aecodec.api`` may call on a loaded codec, image and array codecs alike.

A codec turns inputs into entropy-coded *streams* plus a CRC-32 *digest* per stream of the symbols it coded, and
back; how many streams a tile (or an array) takes is registry data (``CodecInfo.streams``), known before any
weights load. ``aecodec.format.payload`` puts those into the container; nothing here knows the file layout.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, NamedTuple, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import torch
    from torch import Tensor

EFFORTS = (0, 1, 2, 3)  # encoder effort levels: more encode time for smaller files, the same decoder


class Coded(NamedTuple):
    """One image tile's (or array's) streams and, for each, the digest of the symbols it holds."""

    streams: list[bytes]
    digests: tuple[int, ...]


# Encoder refinement of one tile: (index in the batch, gained latent, hyper-latent) -> both refined
Refine = Callable[[int, "Tensor", "Tensor"], "tuple[Tensor, Tensor]"]


@runtime_checkable
class LatentCoder(Protocol):
    """The latent half of a composed image codec (``aecodec.codecs.composed``): the transforms' latents <->
    ``Coded``, each with the number of streams the registry declares for its architecture (``streams``, known
    before any weights load); ``downsampling``: of the latent grid the coder works on against
    the transforms' (a hyperprior's 4, or 1); ``refine``: the encoder's effort hook, refused by coders that
    cannot use it; ``rate_steps``: the qualities (in 1/16 steps) whose streams differ, where several code
    alike (None: each step codes its own), so that rate control measures each rate once."""

    downsampling: int
    rate_steps: tuple[int, ...] | None

    def encode(self, y: Tensor, quality16: int, refine: Refine | None = None) -> list[Coded]: ...

    def decode(self, item: Coded, shape: tuple[int, int], quality16: int) -> Tensor:
        """One tile's latents from its streams; ``shape``: the transforms' latent grid (h, w)."""
        ...

    def to_synthesis(self, y_hat: Tensor, quality16: int, device: torch.device) -> Tensor:
        """Decoded latents -> the synthesis' input on ``device``."""
        ...


@runtime_checkable
class ImageCodec(Protocol):
    """Padded RGB tiles [B, 3, H, W] in [0, 1] <-> ``Coded``; ``H`` and ``W`` are multiples of ``stride``.
    ``quality16`` is the quality in 1/16 steps; ``effort`` (one of ``EFFORTS``) > 0 spends encoder time on
    smaller files. ``decompress_batch`` is ``synthesize(decode_latents(...))``. ``rate_steps``: as for
    ``LatentCoder``."""

    stride: int
    rate_steps: tuple[int, ...] | None

    def compress_batch(self, x: Tensor, quality16: int, effort: int = 0,
                       crop: tuple[int, int, int, int] | None = None) -> list[Coded]:
        """``crop`` (top, left, height, width in pixels, on the latent grid): code only the latents of that
        region of x, the rest being context the analysis sees (a tile and a margin of its neighbours)."""
        ...

    def decompress_batch(self, items: list[Coded], height: int, width: int, quality16: int) -> Tensor: ...

    def decode_latents(self, items: list[Coded], height: int, width: int, quality16: int) -> Tensor:
        """The parsing half of ``decompress_batch``: the synthesis' input [B, C, H/s, W/s] (s: the transforms'
        downsampling) from the decoded latents, which ``synthesize`` turns into pixels. Synthesis is local, so the
        API can synthesize the latents of a large image in overlapping windows: bounded memory, and no seams between
        tiles."""
        ...

    def synthesize(self, latents: Tensor, quality16: int) -> Tensor: ...


@runtime_checkable
class ArrayCodec(Protocol):
    """Flat float64 samples <-> (parameters, streams), every decoded value within ``bound`` of the input."""

    def compress(self, x: np.ndarray, bound: float) -> tuple[dict, list[bytes]]: ...

    def decompress(self, params: dict, streams: list[bytes]) -> np.ndarray: ...
