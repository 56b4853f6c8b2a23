"""The payload inside a container: stream order, the content check and array parameters.

Stream order (docs/format.md): each tile's streams in row-major tile order (``streams_per_tile`` each), then
the alpha plane when the image has one, then the *check*: big-endian CRC-32s of the header fields and of each
other stream's symbols (a codec's digests), so damage is caught before or as it is decoded. Arrays: a JSON
parameter stream, the codec's streams, then the check over their bytes. One writer (``seal``) and one reader
(``open_checked``) serve every codec. Bytes only: no codec, model or registry is known here.
"""
from __future__ import annotations

import json
import math
import struct
import zlib
from dataclasses import dataclass, replace

from ..errors import FormatError
from . import container
from .container import Container


def header_digest(c: Container) -> int:
    """CRC-32 of the header fields, repeated inside the content check: a header changed under a forged file
    CRC is refused before any decoding."""
    return zlib.crc32(struct.pack(">B8sHIIBH", c.codec_id, c.weights_hash, c.quality16, c.width, c.height,
                                  container.MODES.index(c.mode), c.tile))


def seal(c: Container, streams: list[bytes], digests: list[int]) -> bytes:
    """Container fields + streams + one digest per stream -> the file's bytes (check stream last)."""
    c.streams = list(streams)
    c.streams.append(struct.pack(f">{len(digests) + 1}I", header_digest(c), *digests))
    return container.pack(c)


def open_checked(c: Container, n_streams: int) -> tuple[int, ...]:
    """The per-stream digests of a parsed container that must hold ``n_streams`` streams before its check;
    the header digest is verified here."""
    n = n_streams + 1
    if len(c.streams) != n or len(c.streams[-1]) != 4 * n:
        raise FormatError(f"expected {n} streams ending in a {4 * n}-byte check")
    digests = struct.unpack(f">{n}I", c.streams[-1])
    if digests[0] != header_digest(c):
        raise FormatError("corrupted .aec header: fails the content check")
    return digests[1:]


@dataclass
class ImagePayload:
    """An image file's streams by role: each tile's streams and their digests, and the alpha plane."""

    tiles: list[list[bytes]]
    digests: list[tuple[int, ...]]
    alpha: bytes | None


def seal_image(c: Container, tiles: list[list[bytes]], digests: list[list[int]], alpha: bytes | None) -> bytes:
    """An image file: each tile's streams (row-major tile order), then the alpha plane when there is one (its
    digest is its CRC-32), then the check."""
    extra = [alpha] if alpha is not None else []
    return seal(replace(c, streams=[]), [s for t in tiles for s in t] + extra,
                [d for t in digests for d in t] + [zlib.crc32(a) for a in extra])


def seal_exact(c: Container, tiles: list[bytes], alpha: bytes | None) -> bytes:
    """An ``EXACT`` image file: one stream of exact pixels a tile, each checked by its CRC-32."""
    return seal_image(replace(c, flags=container.EXACT), [[t] for t in tiles], [[zlib.crc32(t)] for t in tiles],
                      alpha)


def open_image(c: Container, per_tile: int, n_tiles: int) -> ImagePayload:
    """The streams of a parsed image container by role, every check that needs no model done: ``per_tile``
    streams a tile (one in ``EXACT`` files), the alpha plane for RGBA and LA images."""
    exact = bool(c.flags & container.EXACT)
    per = 1 if exact else per_tile
    has_alpha = c.mode in ("RGBA", "LA")
    digests = open_checked(c, per * n_tiles + has_alpha)
    alpha = c.streams[per * n_tiles] if has_alpha else None
    if alpha is not None and zlib.crc32(alpha) != digests[-1]:
        raise FormatError("corrupted .aec alpha stream: fails the content check")
    tiles = [c.streams[k * per:(k + 1) * per] for k in range(n_tiles)]
    sums = [digests[k * per:(k + 1) * per] for k in range(n_tiles)]
    if exact and any(zlib.crc32(t[0]) != d[0] for t, d in zip(tiles, sums)):
        raise FormatError("corrupted .aec exact pixel stream: fails the content check")
    return ImagePayload(tiles, sums, alpha)


def seal_array(c: Container, params: bytes, streams: list[bytes]) -> bytes:
    """An array file: the parameter stream, the codec's streams, then the check over their bytes."""
    every = [params, *streams]
    return seal(c, every, [zlib.crc32(s) for s in every])


def open_array(c: Container, n_streams: int) -> tuple[dict, list[bytes]]:
    """(parameters, the codec's ``n_streams`` streams) of a parsed array container, every CRC checked."""
    digests = open_checked(c, 1 + n_streams)
    if any(zlib.crc32(s) != d for s, d in zip(c.streams[:-1], digests)):
        raise FormatError("corrupted .aec array file: fails the content check")
    return read_params(c.streams[0]), c.streams[1:-1]


def params_bytes(params: dict, shape: tuple[int, ...], dtype: str) -> bytes:
    """An array codec's parameters, the array's shape and dtype -> the first stream of an array file."""
    return json.dumps({**params, "shape": list(shape), "dtype": dtype}).encode()


def read_params(data: bytes) -> dict:
    try:
        p = json.loads(data)
        ok = (isinstance(p, dict) and p.get("dtype") in ("float32", "float64") and isinstance(p.get("shape"), list)
              and all(isinstance(s, int) and s >= 0 for s in p["shape"]) and 1 <= len(p["shape"]) <= 2
              and isinstance(p.get("n"), int) and math.prod(p["shape"]) == p["n"]
              and all(isinstance(p.get(k), (int, float)) and math.isfinite(p[k]) for k in ("mean", "std", "bound"))
              and p["bound"] > 0 and p["std"] > 0 and isinstance(p.get("delta", False), bool))
    except (ValueError, TypeError, KeyError):
        ok = False
    if not ok:
        raise FormatError("corrupted array parameters")
    return p
