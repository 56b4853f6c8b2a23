"""The one codec contract: what ``aecodec.api`` may call on a loaded codec, image and array codecs alike.

A codec turns inputs into entropy-coded *streams* plus a CRC-32 *digest* per stream of the symbols it coded, and
back; how many streams a tile (or an array) takes is registry data (``CodecInfo.streams``), known before any
weights load. ``aecodec.format.payload`` puts those into the container; nothing here knows the file layout.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    from torch import Tensor


class Coded(NamedTuple):
    """One image tile's (or array's) streams and, for each, the digest of the symbols it holds."""

    streams: list[bytes]
    digests: tuple[int, ...]


@runtime_checkable
class ImageCodec(Protocol):
    """Padded RGB tiles [B, 3, H, W] in [0, 1] <-> ``Coded``; ``H`` and ``W`` are multiples of ``stride``.
    ``q16`` is the quality in 1/16 steps; ``effort`` > 0 spends encoder time on smaller files."""

    stride: int

    def compress_batch(self, x: Tensor, q16: int, effort: int = 0) -> list[Coded]: ...

    def decompress_batch(self, items: list[Coded], height: int, width: int, q16: int) -> Tensor: ...


@runtime_checkable
class ArrayCodec(Protocol):
    """Flat float64 samples <-> (parameters, streams), every decoded value within ``bound`` of the input."""

    def compress(self, x: np.ndarray, bound: float) -> tuple[dict, list[bytes]]: ...

    def decompress(self, params: dict, streams: list[bytes]) -> np.ndarray: ...
