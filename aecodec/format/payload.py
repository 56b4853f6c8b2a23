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
