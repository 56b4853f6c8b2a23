"""The .aec container: a fixed header, length-prefixed streams, CRC32. Layout in docs/format.md.

Nothing here knows about models; the parser validates every field (and the CRC) before anyone allocates or
decodes, so hostile input fails here with ``FormatError``.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from ..errors import FormatError

QUALITY_STEPS = 16  # a file stores its quality in these steps per level (``quality16``): 4.5 is 72

MAGIC = b"\x89AEC"
SEAMLESS = 0x01  # flag (version 2): tiles were analysed with their neighbours' pixels in view: decode them jointly
EXACT = 0x02  # flag (version 2): each tile's one stream holds its exact pixels, losslessly (no model decodes it)
# The version policy, in one place: the flags each version may carry. A file is written as the lowest version that
# holds its flags (a file without flags is version 1, which any reader takes); readers refuse other versions.
VERSION_FLAGS = {1: 0, 2: SEAMLESS | EXACT}
VERSION = max(VERSION_FLAGS)  # the newest version this aecodec reads and writes


def version_of(flags: int) -> int:
    """The version a file with these feature flags is written as (the newest for flags no version holds, which
    readers then refuse)."""
    return min((v for v, allowed in VERSION_FLAGS.items() if flags & ~allowed == 0), default=VERSION)
MODES = ("RGB", "L", "RGBA", "LA", "F")  # index = mode byte; "F": a float array (array codecs)
MAX_SIDE = 1 << 16
MAX_PIXELS = 1 << 28
MAX_STREAMS = 1 << 16
_HEADER = struct.Struct(">4sBB8sHIIBBHI")  # magic ver codec hash quality w h mode flags tile nstreams
_LEN = struct.Struct(">I")
_CRC = struct.Struct(">I")


@dataclass
class Container:
    codec_id: int
    weights_hash: bytes  # 8 bytes
    quality16: int  # quality in QUALITY_STEPS steps
    width: int
    height: int
    mode: str  # one of MODES: the original image's colour mode
    tile: int = 0  # tile side in pixels, 0 = one tile
    streams: list[bytes] = field(default_factory=list)
    flags: int = 0

    @property
    def quality(self) -> float:
        return self.quality16 / QUALITY_STEPS


def pack(c: Container) -> bytes:
    if not (1 <= c.width <= MAX_SIDE and 1 <= c.height <= MAX_SIDE):
        raise FormatError(f"image size {c.width}x{c.height} outside 1..{MAX_SIDE}")
    head = _HEADER.pack(MAGIC, version_of(c.flags), c.codec_id, c.weights_hash, c.quality16, c.width, c.height,
                        MODES.index(c.mode), c.flags, c.tile, len(c.streams))
    body = b"".join(_LEN.pack(len(s)) + s for s in c.streams)
    data = head + body
    return data + _CRC.pack(zlib.crc32(data))


def unpack(data: bytes) -> Container:
    """Parse and validate a .aec file; raises ``FormatError`` naming the first problem found."""
    if len(data) < 4 or data[:4] != MAGIC:
        raise FormatError("not an .aec file (bad magic bytes)")
    if len(data) < _HEADER.size + _CRC.size:
        raise FormatError(f"truncated .aec file ({len(data)} bytes)")
    magic, version, codec_id, whash, q16, w, h, mode, flags, tile, n = _HEADER.unpack_from(data)
    if version not in VERSION_FLAGS:
        raise FormatError(f"unsupported .aec format version {version} (this aecodec reads versions 1 to {VERSION})")
    (crc,) = _CRC.unpack_from(data, len(data) - _CRC.size)
    if zlib.crc32(data[: -_CRC.size]) != crc:
        raise FormatError("corrupted .aec file (CRC mismatch) or truncated")
    if not (1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE and w * h <= MAX_PIXELS):
        raise FormatError(f"invalid image size {w}x{h}")
    if mode >= len(MODES):
        raise FormatError(f"invalid colour mode byte {mode}")
    if flags & ~VERSION_FLAGS[version] or flags == SEAMLESS | EXACT:
        raise FormatError(f"unsupported feature flags {flags:#04x} in a version {version} file (written by a newer "
                          "aecodec?)")
    if tile % 64 or n > MAX_STREAMS:
        raise FormatError("invalid tile size or stream count")
    pos, end, streams = _HEADER.size, len(data) - _CRC.size, []
    for _ in range(n):
        if pos + _LEN.size > end:
            raise FormatError("truncated stream table")
        (length,) = _LEN.unpack_from(data, pos)
        pos += _LEN.size
        if pos + length > end:
            raise FormatError("stream length runs past the end of the file")
        streams.append(bytes(data[pos:pos + length]))
        pos += length
    if pos != end:
        raise FormatError(f"{end - pos} unexpected bytes after the last stream")
    return Container(codec_id, whash, q16, w, h, MODES[mode], tile, streams, flags)
