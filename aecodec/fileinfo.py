"""What ``aecodec info`` tells about a file: header facts and rate, validated but not decoded.

Torch-free, so ``aecodec info`` answers before any model could load; it works for files of codecs or weights this
installation lacks (``decodable`` says whether it, or a given weights file, can decode them).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from . import variants
from .codecs.weights_file import weights_metadata
from .errors import ModelMismatchError
from .format import container, payload
from .registry import architecture_of_id, variants_of
from .tiling import tiles


def _name_of_id(codec_id: int) -> str:
    """The name a file's codec id goes by here: the variant published with that id, else its architecture's
    first variant, else "unknown"."""
    try:
        candidates = variants_of(architecture_of_id(codec_id))
    except ModelMismatchError:
        return f"unknown (id {codec_id})"
    return next((v.name for v in candidates if v.codec_id == codec_id), candidates[0].name)


@dataclass
class FileInfo:
    """What ``aecodec info`` prints."""

    codec: str
    codec_id: int
    weights_hash: str
    quality: float
    width: int
    height: int
    mode: str
    tiles: int
    bytes: int
    bpp: float
    compression_ratio: float  # raw size (8-bit samples, or the array's bytes) over file size
    decodable: bool  # False when this installation lacks the codec or its exact weights
    array: dict | None = None  # arrays (mode F): shape, dtype, error bound; then bpp is bits per value
    imported: dict | None = None  # the given weights file's origin: CompressAI arch, N, M, source SHA-256
    exact: bool = False  # the pixels are stored exactly (lossless): that file was no larger than the codec's

    def to_dict(self) -> dict:
        return asdict(self)


def inspect(data: bytes, weights: str | Path | None = None) -> FileInfo:
    """Header facts and rate of .aec bytes (validated, not decoded); works for files of codecs or weights
    this installation lacks (``decodable`` says whether it, or the given ``weights`` file, can decode it)."""
    c = container.unpack(bytes(data))
    try:
        info = variants.codec_of(c, weights)
        name, decodable = info.name, True
    except ModelMismatchError:
        name, decodable = _name_of_id(c.codec_id), False
    imported = None
    if weights and decodable:
        meta = weights_metadata(weights)
        if "source_sha256" in meta:
            imported = {k: meta[k] for k in ("arch", "N", "M", "source_sha256", "source_name") if k in meta}
    pixels = c.width * c.height
    if c.mode == "F" and c.streams:
        p = payload.read_params(c.streams[0])
        values = max(1, p["n"])
        raw = values * (4 if p["dtype"] == "float32" else 8)
        return FileInfo(name, c.codec_id, c.weights_hash.hex(), c.quality, c.width, c.height, c.mode, 1,
                        len(data), 8 * len(data) / values, raw / len(data), decodable,
                        {"shape": p["shape"], "dtype": p["dtype"], "error_bound": p["bound"]})
    return FileInfo(name, c.codec_id, c.weights_hash.hex(), c.quality, c.width, c.height, c.mode,
                    len(tiles(c.width, c.height, c.tile)), len(data), 8 * len(data) / pixels,
                    3 * pixels / len(data), decodable, imported=imported, exact=bool(c.flags & container.EXACT))
