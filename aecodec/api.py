"""Public API: encode, decode, inspect. Images of any size: padded to the model stride, large ones in tiles."""
from __future__ import annotations

import math
import struct
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .format import container as bitstream
from .format.container import Container
from .errors import AecError, FormatError, InputImageError, ModelMismatchError, UnknownCodecError
from .image import join_image, open_image, pad_to, split_image, to_uint8
from .codecs.refine import EFFORT_ITERATIONS
from .registry import CodecInfo, codec_by_id, get_codec

TILE = 1024  # tile side for large images: bounds memory, multiple of every model stride
TILE_ABOVE = 1536 * 1536  # images with more pixels than this are coded in tiles
TILE_MIN, TILE_MAX = 256, 4096  # tile sides a file may use
UNTILED_MAX = 3072 * 3072  # the largest image a file may code as one tile (memory bound for decoders)


def _tiling_problem(tile: int, width: int, height: int) -> str | None:
    """Why a tiling is not allowed (encoder and decoder share one rule), or None."""
    if tile and not (tile % 64 == 0 and TILE_MIN <= tile <= TILE_MAX):
        return f"tile must be 0 or a multiple of 64 from {TILE_MIN} to {TILE_MAX}, not {tile}"
    if tile == 0 and width * height > UNTILED_MAX:
        return f"a {width}x{height} image is too large for one tile (at most {UNTILED_MAX} pixels)"
    return None


def _quality16(info: CodecInfo, quality: float | None) -> int:
    q = info.default_quality if quality is None else quality
    lo, hi = min(info.qualities), max(info.qualities)
    if not lo <= q <= hi:
        raise UnknownCodecError(f"quality {q} outside {lo}..{hi} for codec {info.name!r}")
    if not info.fractional and q != int(q):
        raise UnknownCodecError(f"codec {info.name!r} takes whole qualities {lo}..{hi}, not {q}")
    return round(q * 16)


def _tiles(width: int, height: int, tile: int) -> list[tuple[int, int, int, int]]:
    """(top, left, height, width) of each tile in row-major order; one tile when ``tile`` is 0."""
    if tile == 0:
        return [(0, 0, height, width)]
    return [(t, l, min(tile, height - t), min(tile, width - l))
            for t in range(0, height, tile) for l in range(0, width, tile)]


def encode(image: str | Path | Image.Image, codec: str | None = None, quality: float | None = None,
           device: str = "cpu", tile: int | None = None, effort: int = 0) -> bytes:
    """Compress an image (path or PIL image) to .aec bytes. ``quality`` may be fractional (1/16 steps).
    ``tile``: tile side in pixels (a multiple of 64 from 256 to 4096) to bound memory, or 0 for one tile;
    by default images above 2.4 megapixels use 1024-pixel tiles. ``effort`` 0..3 spends more encode time on
    smaller files (per-image latent refinement, ``aecodec.codecs.refine``); decoding is unaffected."""
    return encode_many([image], codec, quality, device, tile, effort)[0]


@dataclass
class _Prepared:
    x: torch.Tensor  # [1, 3, H, W] in [0, 1]
    mode: str
    alpha: bytes | None
    tile: int


def _prepare(image: str | Path | Image.Image, tile: int | None) -> _Prepared:
    im = open_image(image)
    if not (1 <= im.width <= bitstream.MAX_SIDE and 1 <= im.height <= bitstream.MAX_SIDE):
        raise InputImageError(f"image size {im.width}x{im.height} outside 1..{bitstream.MAX_SIDE}")
    x, mode, alpha = split_image(im)
    h, w = x.shape[-2:]
    if tile is None:
        tile = TILE if h * w > TILE_ABOVE else 0
    if problem := _tiling_problem(tile, w, h):
        raise AecError(problem)
    return _Prepared(x, mode, alpha, tile)


def _batches(keys: list, batch_size: int) -> list[list[int]]:
    """Indices of ``keys`` grouped by equal key, in order, at most ``batch_size`` per group."""
    groups: dict = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    return [g[j:j + batch_size] for g in groups.values() for j in range(0, len(g), batch_size)]


def encode_many(images: list, codec: str | None = None, quality: float | None = None, device: str = "cpu",
                tile: int | None = None, effort: int = 0, batch_size: int = 1) -> list[bytes]:
    """``encode`` for many images: tiles and images of equal padded size share one analysis pass, up to
    ``batch_size`` at a time (use 8 or more on a GPU; 1 keeps CPU memory lowest). Each file is the same bytes
    ``encode`` writes for its image alone."""
    info = get_codec(codec)
    if info.kind != "image":
        raise UnknownCodecError(f"codec {info.name!r} codes arrays, not images: use aecodec.encode_array")
    q16 = _quality16(info, quality)
    if effort not in EFFORT_ITERATIONS:
        raise AecError(f"effort must be one of {sorted(EFFORT_ITERATIONS)}, not {effort}")
    if effort and not info.effort:
        raise UnknownCodecError(f"codec {info.name!r} has no encoder effort levels (use effort 0)")
    if batch_size < 1:
        raise AecError(f"batch size must be at least 1, not {batch_size}")
    prepared = [_prepare(im, tile) for im in images]
    model = info.load(device)
    stride = model.model.stride
    parts, keys = [], []  # (image index, tile), padded tile size: tiles are cut when their batch runs
    for i, p in enumerate(prepared):
        h, w = p.x.shape[-2:]
        for top, left, th, tw in _tiles(w, h, p.tile):
            parts.append((i, top, left, th, tw))
            keys.append((th + (-th % stride), tw + (-tw % stride)))

    def cut(j: int) -> torch.Tensor:
        i, top, left, th, tw = parts[j]
        return pad_to(prepared[i].x[:, :, top:top + th, left:left + tw], stride)

    coded: list = [None] * len(parts)
    for group in _batches(keys, batch_size):
        for j, result in zip(group, model.compress_batch(torch.cat([cut(j) for j in group]), q16, effort)):
            coded[j] = result
    out = []
    for i, p in enumerate(prepared):
        streams: list[bytes] = []
        digests: list[int] = []
        for part, (s, d) in zip(parts, coded):
            if part[0] == i:
                streams += s
                digests += d
        if p.alpha is not None:
            streams.append(p.alpha)
            digests.append(zlib.crc32(p.alpha))
        h, w = p.x.shape[-2:]
        c = Container(info.codec_id, info.weights_hash, q16, w, h, p.mode, p.tile, streams)
        c.streams.append(struct.pack(f">{len(digests) + 1}I", _header_digest(c), *digests))
        out.append(bitstream.pack(c))
    return out


def _header_digest(c: Container) -> int:
    """CRC-32 of the header fields, repeated inside the content check: a header changed under a forged file
    CRC is refused before any decoding."""
    return zlib.crc32(struct.pack(">B8sHIIBH", c.codec_id, c.weights_hash, c.quality16, c.width, c.height,
                                  bitstream.MODES.index(c.mode), c.tile))


def _checked(data: bytes) -> tuple[Container, CodecInfo]:
    c = bitstream.unpack(data)
    return c, _codec_of(c)


def _codec_of(c: Container) -> CodecInfo:
    """The installed codec that can decode a parsed container (its exact weights), or an AecError."""
    info = codec_by_id(c.codec_id)
    if c.weights_hash != info.weights_hash:
        raise ModelMismatchError(
            f"bitstream was made with other weights of codec {info.name!r} (hash {c.weights_hash.hex()}, "
            f"installed {info.weights_hash.hex()}): decode it with the aecodec version that wrote it")
    if not 16 * min(info.qualities) <= c.quality16 <= 16 * max(info.qualities):
        raise FormatError(f"invalid quality {c.quality} for codec {info.name!r}")
    return info


def decode(data: bytes, device: str = "cpu") -> Image.Image:
    """Decompress .aec bytes to a PIL image of the original size and mode."""
    return decode_many([data], device)[0]


@dataclass
class _Parsed:
    c: Container
    info: CodecInfo
    tiles: list[tuple[int, int, int, int]]
    digests: tuple[int, ...]
    alpha: bytes | None


def _parse(data: bytes) -> _Parsed:
    """Every container check that needs no model: fields, tiling, stream count, header and alpha digests."""
    c, info = _checked(bytes(data))
    if info.kind != "image" or c.mode == "F":
        raise FormatError(f"this .aec file holds an array (codec {info.name!r}): use aecodec.decode_array "
                          "(CLI: decode to a .npy output)")
    if problem := _tiling_problem(c.tile, c.width, c.height):
        raise FormatError(f"invalid tiling: {problem}")
    tiles = _tiles(c.width, c.height, c.tile)
    has_alpha = c.mode in ("RGBA", "LA")
    n = 2 * len(tiles) + has_alpha + 1  # streams, and digests in the check: header + one per other stream
    if len(c.streams) != n or len(c.streams[-1]) != 4 * n:
        raise FormatError(f"expected {n} streams ending in a {4 * n}-byte check")
    digests = struct.unpack(f">{n}I", c.streams[-1])
    if digests[0] != _header_digest(c):
        raise FormatError("corrupted .aec header: fails the content check")
    alpha = c.streams[-2] if has_alpha else None
    if alpha is not None and zlib.crc32(alpha) != digests[-1]:
        raise FormatError("corrupted .aec alpha stream: fails the content check")
    return _Parsed(c, info, tiles, digests, alpha)


def decode_many(datas: list[bytes], device: str = "cpu", batch_size: int = 1) -> list[Image.Image]:
    """``decode`` for many files: tiles of equal size, codec and quality share one synthesis pass, up to
    ``batch_size`` at a time. Pixels are the same as decoding each file alone."""
    if batch_size < 1:
        raise AecError(f"batch size must be at least 1, not {batch_size}")
    files = [_parse(d) for d in datas]
    rgbs = [np.empty((f.c.height, f.c.width, 3), np.uint8) for f in files]  # 3 bytes a pixel: bounded memory
    parts, keys = [], []  # (file, tile index), (codec, quality, padded size)
    for i, f in enumerate(files):
        stride = f.info.load(device).model.stride
        for k, (_, _, th, tw) in enumerate(f.tiles):
            parts.append((i, k))
            keys.append((f.info.name, f.c.quality16, th + (-th % stride), tw + (-tw % stride)))
    try:
        for group in _batches(keys, batch_size):
            name, q16, ph, pw = keys[group[0]]
            items = []
            for j in group:
                i, k = parts[j]
                f = files[i]
                items.append((f.c.streams[2 * k:2 * k + 2], f.digests[1 + 2 * k:3 + 2 * k]))
            x_hat = files[parts[group[0]][0]].info.load(device).decompress_batch(items, ph, pw, q16)
            for b, j in enumerate(group):
                i, k = parts[j]
                top, left, th, tw = files[i].tiles[k]
                rgbs[i][top:top + th, left:left + tw] = to_uint8(x_hat[b:b + 1, :, :th, :tw])
        return [join_image(rgb, f.c.mode, f.alpha) for rgb, f in zip(rgbs, files)]
    except AecError:
        raise
    except Exception as e:  # a stream that passed the CRC but does not parse: report, never crash
        raise FormatError(f"corrupted .aec payload: {e}") from None


def encode_array(array, bound: float, codec: str = "signal") -> bytes:
    """Compress a 1-D or 2-D float array (or a .npy path) so that every decoded value is within ``bound`` of
    the original (guaranteed; see ``aecodec.codecs.signal``)."""
    from .codecs.signal import WINDOW, load_array, params_bytes

    info = get_codec(codec)
    if info.kind != "array":
        raise UnknownCodecError(f"codec {info.name!r} codes images, not arrays")
    if not (isinstance(bound, (int, float)) and math.isfinite(bound) and bound > 0):
        raise AecError(f"error bound must be a positive number, not {bound}")
    a = load_array(array)
    windows = max(1, math.ceil(a.size / WINDOW))
    if windows > bitstream.MAX_SIDE:
        raise InputImageError(f"array of {a.size} values exceeds {bitstream.MAX_SIDE * WINDOW}")
    params, streams = info.load().compress(a.astype(np.float64).reshape(-1), float(bound))
    dtype = "float32" if a.dtype == np.float32 else "float64"
    c = Container(info.codec_id, info.weights_hash, 16, WINDOW, windows, "F", 0,
                  [params_bytes(params, a.shape, dtype), *streams])
    c.streams.append(struct.pack(">4I", _header_digest(c), *(zlib.crc32(s) for s in c.streams)))
    return bitstream.pack(c)


def decode_array(data: bytes) -> np.ndarray:
    """Decompress an array .aec file to a numpy array of the original shape and dtype."""
    from .codecs.signal import read_params

    c, info = _checked(bytes(data))
    if info.kind != "array" or c.mode != "F":
        raise FormatError(f"this .aec file holds an image (codec {info.name!r}): use aecodec.decode")
    if len(c.streams) != 4 or len(c.streams[-1]) != 16:
        raise FormatError("expected 4 streams ending in a 16-byte check")
    digests = struct.unpack(">4I", c.streams[-1])
    if digests[0] != _header_digest(c) or any(zlib.crc32(s) != d for s, d in zip(c.streams[:3], digests[1:])):
        raise FormatError("corrupted .aec array file: fails the content check")
    p = read_params(c.streams[0])
    try:
        out = info.load().decompress(p, c.streams[1:3])
    except AecError:
        raise
    except Exception as e:
        raise FormatError(f"corrupted .aec array payload: {e}") from None
    return out.reshape(p["shape"]).astype(p["dtype"])


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

    def to_dict(self) -> dict:
        return asdict(self)


def inspect(data: bytes) -> FileInfo:
    """Header facts and rate of .aec bytes (validated, not decoded); works for files of codecs or weights
    this installation lacks (``decodable`` is then False)."""
    c = bitstream.unpack(bytes(data))
    try:
        name = codec_by_id(c.codec_id).name
    except ModelMismatchError:
        name = f"unknown (id {c.codec_id})"
    try:
        _codec_of(c)  # the file was parsed once, above
        decodable = True
    except ModelMismatchError:
        decodable = False
    pixels = c.width * c.height
    if c.mode == "F" and c.streams:
        from .codecs.signal import read_params

        p = read_params(c.streams[0])
        values = max(1, p["n"])
        raw = values * (4 if p["dtype"] == "float32" else 8)
        return FileInfo(name, c.codec_id, c.weights_hash.hex(), c.quality, c.width, c.height, c.mode, 1,
                        len(data), 8 * len(data) / values, raw / len(data), decodable,
                        {"shape": p["shape"], "dtype": p["dtype"], "error_bound": p["bound"]})
    return FileInfo(name, c.codec_id, c.weights_hash.hex(), c.quality, c.width, c.height, c.mode,
                    len(_tiles(c.width, c.height, c.tile)), len(data), 8 * len(data) / pixels,
                    3 * pixels / len(data), decodable)
