"""AV1-intra codecs: an AVIF bitstream as the latent coder, a learned restoration filter after it.

Why: AV1's intra coder is decades of engineering nobody here has to train, and a filter trained on its decoded
output is the cheapest lever on quality (it trains on crops encoded once). The encoder writes each tile as an
AVIF (Pillow's libavif, 4:4:4, speed 4); the decoder decodes it, which the AV1 specification makes exact on every
conformant decoder, then runs the filter (``aecodec.models.postfilter``) on oneDNN's thread-invariant kernels.
A tile's digest is the CRC-32 of the pixels its AVIF decodes to, so a decoder that parsed other pixels than the
encoder saw is refused instead of filtering them.

A tile's stream is the AVIF file with its boxes (ftyp, meta: about 270 bytes, 5% of a low-rate photo) deflated
against ``HEADER_DICTIONARY``, a typical header, down to about 25 bytes; the AV1 data follows as it is
(docs/format.md). The decoder inflates the same bytes back, so it decodes exactly the file the encoder wrote.
"""
from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image, features
from torch import Tensor

from ..contract import Coded, Refine
from ..errors import FormatError, ModelMismatchError
from ..format.container import QUALITY_STEPS
from ..models.postfilter import PostFilter
from . import inference, weights_file
from .composed import ComposedCodec
from .postfilter import PostFilterStage, read_filter

SPEED = 4  # libaom's speed: the anchor's setting (0 slowest .. 10 fastest)
LOWEST, HIGHEST = 10, 90  # the AVIF qualities of the codec's qualities 1 and 10
LEVELS = 10
# The header (every box before the AV1 data) of a 700x500 AVIF from Pillow 13's libavif, 4:4:4: the preset
# dictionary streams' headers are deflated with. Part of the file format: never change it.
HEADER_DICTIONARY = bytes.fromhex(
    "00000020667479706176696600000000617669666d6966316d6961664d413141000000eb6d657461000000000000002168646c72000000"
    "000000000070696374000000000000000000000000000000000e7069746d0000000000010000001e696c6f6300000000440000010001"
    "00000001000001130000a4a60000002869696e660000000000010000001a696e6665020000000001000061763031436f6c6f72000000"
    "006a697072700000004b6970636f000000146973706500000000000002bc000001f4000000107069786900000000030808080000000c"
    "617631438124000000000013636f6c726e636c780001000d0006800000001769706d610000000000000001000104010283040000a4ae"
    "6d646174")
MAX_HEADER = 1 << 16  # bytes an inflated header may have


def avif_quality(quality16: int) -> int:
    """The AVIF quality (0-100) a codec quality (1/16 steps, 1..10) codes at: linear from 10 to 90, rounded in
    integer arithmetic."""
    span = (LEVELS - 1) * QUALITY_STEPS
    return LOWEST + ((quality16 - QUALITY_STEPS) * (HIGHEST - LOWEST) * 2 + span) // (2 * span)


def avif_bytes(pixels: np.ndarray, quality: int) -> bytes:
    """HxWx3 uint8 pixels -> an AVIF file (4:4:4, ``SPEED``)."""
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, "AVIF", quality=quality, subsampling="4:4:4", speed=SPEED)
    return buf.getvalue()


def avif_pixels(data: bytes, size: tuple[int, int] | None = None) -> np.ndarray:
    """An AVIF file -> its HxWx3 uint8 pixels; with ``size`` (width, height) it must have that size, checked from
    its header before anything is decoded. Anything else is a ``FormatError``."""
    try:
        im = Image.open(io.BytesIO(data), formats=["AVIF"])
        if size is not None and im.size != size:
            raise FormatError(f"corrupted .aec AVIF stream: {im.size[0]}x{im.size[1]} pixels where the tile has "
                              f"{size[0]}x{size[1]}")
        im.load()
        return np.asarray(im.convert("RGB"))
    except FormatError:
        raise
    except (OSError, ValueError, SyntaxError, RuntimeError, Image.DecompressionBombError) as e:  # RuntimeError: libavif
        raise FormatError(f"corrupted .aec AVIF stream: {e}") from None


def _data_offset(avif: bytes) -> int:
    """Where the AV1 data starts: after the header of the file's top-level ``mdat`` box."""
    offset = 0
    while offset + 8 <= len(avif):
        size, kind = struct.unpack(">I4s", avif[offset:offset + 8])
        if kind == b"mdat":
            return offset + 8
        if size < 8:
            break
        offset += size
    raise ValueError("an AVIF file without an mdat box")


def pack(avif: bytes) -> bytes:
    """An AVIF file -> its stream: the deflated header's length (2 bytes, little-endian), the deflated header,
    then the AV1 data."""
    start = _data_offset(avif)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zdict=HEADER_DICTIONARY)
    header = deflate.compress(avif[:start]) + deflate.flush()
    return struct.pack("<H", len(header)) + header + avif[start:]


def unpack(stream: bytes) -> bytes:
    """A stream -> the AVIF file it holds (``FormatError`` when it cannot hold one)."""
    if len(stream) < 2:
        raise FormatError("corrupted .aec AVIF stream: truncated")
    n = int.from_bytes(stream[:2], "little")
    inflate = zlib.decompressobj(-15, zdict=HEADER_DICTIONARY)
    try:
        header = inflate.decompress(stream[2:2 + n], MAX_HEADER)
    except zlib.error as e:
        raise FormatError(f"corrupted .aec AVIF stream: {e}") from None
    if len(stream) < 2 + n or not inflate.eof:
        raise FormatError("corrupted .aec AVIF stream: its header does not inflate")
    return header + stream[2 + n:]


class PixelTransforms:
    """The transforms of a codec whose latent coder codes pixels: both are the identity."""

    downsampling = 1

    def __init__(self, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.fast = inference.available(self.device)  # the post-filter's back-end

    def analyze(self, x: Tensor) -> Tensor:
        return x.to(self.device)

    def synthesize(self, y: Tensor) -> Tensor:
        return y


class AvifLatents:
    """Latent coder of pixels: each image of a batch [B, 3, H, W] in [0, 1] is one AVIF stream."""

    downsampling = 2  # the restoration filter folds 2x2 blocks: tiles are coded with even sides
    # 144 quality steps share 81 AVIF qualities: the highest step of each codes its rate
    rate_steps = tuple(sorted({avif_quality(q): q for q in range(QUALITY_STEPS, LEVELS * QUALITY_STEPS + 1)}.values()))

    def encode(self, y: Tensor, quality16: int, refine: Refine | None = None) -> list[Coded]:
        if refine is not None:
            raise ValueError("AVIF coding has no latent refinement")
        out = []
        for x in y.cpu():
            pixels = np.ascontiguousarray(x.mul(255).round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy())
            data = avif_bytes(pixels, avif_quality(quality16))
            out.append(Coded([pack(data)], (zlib.crc32(avif_pixels(data).tobytes()),)))
        return out

    def decode(self, item: Coded, shape: tuple[int, int], quality16: int) -> Tensor:
        h, w = shape
        pixels = avif_pixels(unpack(item.streams[0]), (w, h))
        if zlib.crc32(pixels.tobytes()) != item.digests[0]:
            raise FormatError("the AVIF stream decodes to other pixels than the encoder's (fails the content "
                              "check)")
        return torch.from_numpy(pixels.copy()).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)

    def to_synthesis(self, y_hat: Tensor, quality16: int, device: torch.device) -> Tensor:
        return y_hat.to(device)


def export(post_filter: PostFilter, path: Path, provenance: dict | None = None) -> Path:
    """A trained restoration filter -> its weights file (fp16 parameters and config)."""
    meta = {"family": "avif-pf", "codec": "avif-pf", "config": json.dumps(post_filter.config.to_dict()),
            "speed": str(SPEED)}
    return weights_file.write(path, weights_file.half(post_filter.state_dict()), meta, provenance)


def load(path: Path, device: str = "cpu") -> ComposedCodec:
    """Weights file -> the codec: identity transforms, AVIF-coded pixels, the filter after them."""
    if not features.check("avif"):
        raise ModelMismatchError("this Pillow has no AVIF support, which codec 'avif-pf' needs (Pillow >= 11.2 "
                                 "wheels include it)")
    post_filter = read_filter(path)
    if post_filter.config.levels != LEVELS:
        raise ModelMismatchError(f"{path.name} filters {post_filter.config.levels} levels, avif-pf has {LEVELS}")
    device = torch.device(device)
    return ComposedCodec(PixelTransforms(device), AvifLatents(), PostFilterStage(post_filter, device),
                         model=post_filter, levels=LEVELS)
