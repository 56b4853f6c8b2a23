"""Tiles and windows, as pure functions: the tile plan a file records (an encoder and a decoder share one rule),
the margin of neighbouring pixels a tile is analysed with, and inference over overlapping windows, so that
memory stays that of one window whatever the image size (the decoder's synthesis, the denoiser)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # no torch for the tile plan: ``aecodec info`` loads none
    from torch import Tensor

Box = tuple[int, int, int, int]  # top, left, height, width

TILE = 1024  # tile side for large images: bounds memory, multiple of every model stride
TILE_ABOVE = 1536 * 1536  # images with more pixels than this are coded in tiles
TILE_MIN, TILE_MAX = 256, 4096  # tile sides a file may use
UNTILED_MAX = 3072 * 3072  # the largest image a file may code as one tile (memory bound for decoders)


def tiling_problem(tile: int, width: int, height: int) -> str | None:
    """Why a tiling is not allowed, or None."""
    if tile and not (tile % 64 == 0 and TILE_MIN <= tile <= TILE_MAX):
        return f"tile must be 0 or a multiple of 64 from {TILE_MIN} to {TILE_MAX}, not {tile}"
    if tile == 0 and width * height > UNTILED_MAX:
        return f"a {width}x{height} image is too large for one tile (at most {UNTILED_MAX} pixels)"
    return None


def tiles(width: int, height: int, tile: int) -> list[Box]:
    """Each tile's box in row-major order; one tile when ``tile`` is 0."""
    if tile == 0:
        return [(0, 0, height, width)]
    return [(top, left, min(tile, height - top), min(tile, width - left))
            for top in range(0, height, tile) for left in range(0, width, tile)]


def with_margin(box: Box, margin: int, height: int, width: int) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of ``box`` grown by ``margin`` on every side, clipped to height x width."""
    top, left, h, w = box
    return max(0, top - margin), max(0, left - margin), min(height, top + h + margin), min(width, left + w + margin)


def windowed(f: Callable[[Tensor], Tensor], x: Tensor, size: int, halo: int,
             scale: int = 1) -> Iterator[tuple[int, int, Tensor]]:
    """``f`` over overlapping windows of ``x`` [B, C, H, W]: each ``size``-square window runs with ``halo``
    positions of context on each side (clipped at the edges) and its output, ``scale`` output positions per
    input position, is cut back to the window. Yields (top, left, output) in output positions, one window at a
    time, for the caller to write away (the output may run past the image where ``f`` pads)."""
    h, w = x.shape[-2:]
    for top in range(0, h, size):
        for left in range(0, w, size):
            t0, l0, t1, l1 = with_margin((top, left, size, size), halo, h, w)
            y = f(x[:, :, t0:t1, l0:l1])
            dt, dl = (top - t0) * scale, (left - l0) * scale
            yield top * scale, left * scale, y[:, :, dt:dt + size * scale, dl:dl + size * scale]
