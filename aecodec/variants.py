"""Which codec and weights a name, a weights file or a parsed file means, and the loaded codec for them.

The registry (``aecodec.registry``) is data; this is where it meets weights files. A file records its codec id
(an architecture) and the first 8 bytes of its weights' SHA-256; decoding picks the registered variant of that
architecture whose weights have that hash, or the ``--weights`` file given for it. Torch-free: ``aecodec info``
uses it.
"""
from __future__ import annotations

import importlib
from functools import lru_cache
from pathlib import Path

from .codecs.loading import check_base, check_family
from .codecs.weights_file import file_hash, weights_metadata
from .contract import EFFORTS
from .errors import AecError, FormatError, ModelMismatchError, UnknownCodecError
from .format.container import QUALITY_STEPS, Container
from .registry import (
    CODECS,
    SINGLE_RATE,
    CodecInfo,
    architecture_of_family,
    architecture_of_id,
    default_codec,
    get_codec,
    quality_range,
    variants_of,
)


def hash_of(info: CodecInfo, weights: str | Path | None = None) -> bytes:
    """The 8-byte identity a file records for ``weights`` (a compatible file), or for ``info``'s shipped file."""
    if weights:
        return file_hash(weights)[:8]
    _require_shipped(info)
    return file_hash(info.weights_path)[:8]


def _require_shipped(info: CodecInfo) -> None:
    if not info.weights:
        raise ModelMismatchError(f"codec {info.name!r} ships no weights: give the weights file it was made "
                                 "with (--weights FILE, from aecodec import compressai)")


def resolve(codec: str | None, weights: str | Path | None = None, kind: str = "image") -> CodecInfo:
    """The codec to encode with: named (or the default of ``kind``), or the one a ``weights`` file belongs to:
    the variant it names, else the first registered variant of its family's architecture."""
    if not weights:
        return get_codec(codec) if codec else default_codec(kind)
    meta = weights_metadata(weights)
    if meta.get("codec"):
        info = get_codec(meta["codec"])
        if codec is not None and codec != info.name:
            raise ModelMismatchError(f"{Path(weights).name} holds weights of codec {info.name!r}, not {codec!r}")
        check_family(Path(weights), info.family, info.name)
        return info
    if codec is not None:
        info = get_codec(codec)
        check_family(Path(weights), info.family, info.name)
        return info
    return variants_of(architecture_of_family(meta["family"]))[0]


def codec_of(c: Container, weights: str | Path | None = None) -> CodecInfo:
    """The registered codec that decodes a parsed container: the variant of its architecture whose weights
    have the recorded hash, or the one a ``weights`` file given for it belongs to (its hash checked)."""
    candidates = variants_of(architecture_of_id(c.codec_id))
    named = next((v for v in candidates if v.codec_id == c.codec_id), candidates[0])  # the id's own variant
    if weights:
        info, have = named, file_hash(weights)[:8]
        check_family(Path(weights), info.family, info.name)
        where = f"the weights file {Path(weights).name} (hash {have.hex()})"
    else:  # the variant whose shipped weights have the recorded hash, else the id's own (refused below)
        info = next((v for v in candidates if v.weights and hash_of(v) == c.weights_hash), named)
        have = hash_of(info)
        where = f"the installed weights (hash {have.hex()})"
    if c.weights_hash != have:
        raise ModelMismatchError(
            f"this file was made with other weights of codec {info.name!r} (hash {c.weights_hash.hex()}) than "
            f"{where}: decode it with --weights FILE (the file it was made with)")
    lo, hi = quality_range(info)
    if not QUALITY_STEPS * lo <= c.quality16 <= QUALITY_STEPS * hi:
        raise FormatError(f"invalid quality {c.quality} for codec {info.name!r}")
    return info


def load(info: CodecInfo, device: str = "cpu", weights: str | Path | None = None):
    """The ready-to-code codec for ``info``'s shipped weights or a compatible ``weights`` file (cached)."""
    if weights:
        path = Path(weights).resolve()
        check_family(path, info.family, info.name)
    else:
        _require_shipped(info)
        path = info.weights_path
        if not path.exists():
            raise ModelMismatchError(f"weights of codec {info.name!r} are missing: {path}")
    return _load(info.name, device, path, file_hash(path))


def _build(loader: str, path: Path, device: str, base=None):
    """Import the registry's ``loader`` ("module:function", data there) and call it on the weights file (and
    the loaded base codec): only now does a codec's network code load."""
    module, func = loader.split(":")
    load = getattr(importlib.import_module(module), func)
    return load(path, device) if base is None else load(path, device, base)


@lru_cache(maxsize=None)
def _load(name: str, device: str, path: Path, digest: bytes):
    """A dependent codec gets its loaded base codec, after the hash its weights file pins has been checked
    against the base's installed weights."""
    info = next(c for c in CODECS if c.name == name)
    if info.base is None:
        return _build(info.loader, path, device)
    base = get_codec(info.base)
    check_base(path, base.weights_path, base.name)
    return _build(info.loader, path, device, load(base, device))


def quality16(info: CodecInfo, quality: float | None) -> int:
    """A quality (the codec's default when None) in 1/16 steps; refused outside the codec's range."""
    if not info.qualities:
        if quality not in (None, SINGLE_RATE):
            raise UnknownCodecError(f"codec {info.name!r} has one rate: it takes no quality")
        return 16 * SINGLE_RATE
    if quality is not None and (isinstance(quality, bool) or not isinstance(quality, (int, float))):
        raise UnknownCodecError(f"quality must be a number, not {quality!r:.40}")
    q = info.default_quality if quality is None else quality
    lo, hi = quality_range(info)
    if not lo <= q <= hi:
        raise UnknownCodecError(f"quality {q} outside {lo}..{hi} for codec {info.name!r}")
    if not info.fractional and q != int(q):
        raise UnknownCodecError(f"codec {info.name!r} takes whole qualities {lo}..{hi}, not {q}")
    return round(q * QUALITY_STEPS)


def encode_settings(codec: str | None = None, quality: float | None = None, effort: int = 0,
                    weights: str | Path | None = None) -> tuple[CodecInfo, int]:
    """(the image codec, quality16) an encode with these settings would use, or the error it would raise.
    Loads no model (nor PyTorch), so the command line refuses bad settings at once."""
    info = resolve(codec, weights)
    if info.kind != "image":
        raise UnknownCodecError(f"codec {info.name!r} codes arrays (.npy files), not images")
    q16 = quality16(info, quality)
    if effort not in EFFORTS:
        raise AecError(f"effort must be one of {list(EFFORTS)}, not {effort}")
    if effort and not info.effort:
        raise UnknownCodecError(f"codec {info.name!r} has no encoder effort levels (use effort 0)")
    return info, q16
