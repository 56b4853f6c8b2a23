"""Public API: encode, decode, inspect. Images of any size: padded to the model stride, large ones in tiles.

Knows no codec by name: it resolves a codec (``aecodec.variants``), loads it, and calls only the codec contract
(``aecodec.contract``); the container and payload layout live in ``aecodec.format``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import variants
from .arrays import load_array
from .codecs.weights_file import weights_metadata
from .contract import Coded
from .errors import AecError, FormatError, InputImageError, UnknownCodecError
from .format import container, payload
from .format.container import QUALITY_STEPS, Container
from .image import (
    EXACT_MAX_SIDE,
    exact_bytes,
    exact_pixels,
    join_image,
    open_image,
    pad_to,
    split_pixels,
    to_uint8,
    unit_range,
)
from .registry import COMPRESSAI_ARCHS, SINGLE_RATE, CodecInfo
from .sources import read_input, resolve_device
from .tiling import TILE_ABOVE, tiles, tiling_problem, windowed, with_margin

__all__ = ["decode", "decode_array", "decode_many", "encode", "encode_array", "encode_many", "import_compressai",
           "load"]

# What a payload can raise when its bytes passed the CRC but do not parse: the file's fault, reported as a
# FormatError. Anything else (a bug, out of memory) is not the file's fault and propagates as it is.
_PAYLOAD_ERRORS = (ValueError, IndexError, OverflowError, EOFError)
WINDOW = 1024  # pixels per side of a synthesis window (large or tiled images)
HALO = 64  # pixels of context beyond a window or tile edge, more than the transforms reach: the analysis of a
#            tile sees its neighbours' pixels that far, the synthesis of a window their latents


def load(name: str | None = None, device: str = "cpu", weights: str | Path | None = None):
    """The ready-to-code codec (``aecodec.contract.ImageCodec`` or ``ArrayCodec``) of a registered codec, or
    of a compatible ``weights`` file; its trained ``nn.Module`` is ``.model`` where it has one."""
    return variants.load(variants.resolve(name, weights), resolve_device(device), weights)


def _file_id(info: CodecInfo, weights: str | Path | None) -> int:
    """The codec id a file records: a shipped variant's own, or for other weights its architecture's (the
    weights hash then tells the variant)."""
    return info.architecture.codec_id if weights else info.codec_id


def encode(image: str | Path | bytes | np.ndarray | Image.Image, codec: str | None = None,
           quality: float | None = None, device: str = "cpu", tile: int | None = None, effort: int = 0,
           weights: str | Path | None = None) -> bytes:
    """Compress an image (a path, image file bytes, a uint8 HxW/HxWx3/HxWx4 array or a PIL image) to .aec bytes.
    ``quality`` may be fractional (1/16 steps).
    ``tile``: tile side in pixels (a multiple of 64 from 256 to 4096) to bound memory, or 0 for one tile; by
    default images above 2.4 megapixels use the codec's tiles (1024 pixels; 4096 for ``avif-pf``). ``effort`` 0..3
    spends more encode time on smaller files (per-image latent refinement, ``aecodec.codecs.refine``); decoding is
    unaffected. ``weights``: a compatible weights file (e.g. from ``aecodec train``) instead of the shipped one;
    decoding then needs the same file."""
    return encode_many([image], codec, quality, device, tile, effort, weights=weights)[0]


@dataclass
class _Prepared:
    x: torch.Tensor  # [1, 3, H, W] uint8 pixels
    mode: str
    alpha: bytes | None
    tile: int


def _prepare(image: str | Path | bytes | np.ndarray | Image.Image, tile: int | None, large_tile: int) -> _Prepared:
    """The image's pixels, colour mode and alpha, and its tile side: ``tile``, or by default ``large_tile``
    (the codec's) for images above ``TILE_ABOVE`` pixels and one tile for the others."""
    im = open_image(image)
    if not (1 <= im.width <= container.MAX_SIDE and 1 <= im.height <= container.MAX_SIDE):
        raise InputImageError(f"image size {im.width}x{im.height} outside 1..{container.MAX_SIDE}")
    x, mode, alpha = split_pixels(im)
    del im  # the pixels are copied: large images hold one copy while they are coded
    h, w = x.shape[-2:]
    if tile is None:
        tile = large_tile if h * w > TILE_ABOVE else 0
    if problem := tiling_problem(tile, w, h):
        raise AecError(problem)
    return _Prepared(x, mode, alpha, tile)


def _batches(keys: list, batch_size: int) -> list[list[int]]:
    """Indices of ``keys`` grouped by equal key, in order, at most ``batch_size`` per group."""
    groups: dict = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    return [g[j:j + batch_size] for g in groups.values() for j in range(0, len(g), batch_size)]


def encode_many(images: list, codec: str | None = None, quality: float | None = None, device: str = "cpu",
                tile: int | None = None, effort: int = 0, batch_size: int = 1,
                weights: str | Path | None = None) -> list[bytes]:
    """``encode`` for many images: tiles and images of equal padded size share one analysis pass, up to
    ``batch_size`` at a time (use 8 or more on a GPU; 1 keeps CPU memory lowest). Each file is the same bytes
    ``encode`` writes for its image alone."""
    info, q16 = variants.encode_settings(codec, quality, effort, weights)
    device = resolve_device(device)
    if batch_size < 1:
        raise AecError(f"batch size must be at least 1, not {batch_size}")
    prepared = [_prepare(im, tile, info.tile) for im in images]
    model = variants.load(info, device, weights)
    stride = model.stride
    parts, keys = [], []  # (image index, window), (padded window size, crop): windows are cut when they run
    for i, p in enumerate(prepared):
        h, w = p.x.shape[-2:]
        parts_of = tiles(w, h, p.tile)
        for top, left, th, tw in parts_of:
            # a tile of a tiled image is analysed with a margin of its neighbours' pixels (SEAMLESS)
            t0, l0, t1, l1 = with_margin((top, left, th, tw), HALO if len(parts_of) > 1 else 0, h, w)
            parts.append((i, t0, l0, t1, l1))
            crop = (top - t0, left - l0, th + (-th % stride), tw + (-tw % stride))
            keys.append((t1 - t0 + (-(t1 - t0) % stride), l1 - l0 + (-(l1 - l0) % stride), crop))

    def cut(j: int) -> torch.Tensor:
        i, t0, l0, t1, l1 = parts[j]
        return pad_to(unit_range(prepared[i].x[:, :, t0:t1, l0:l1]), stride)

    coded: list[Coded | None] = [None] * len(parts)
    for group in _batches(keys, batch_size):
        crop = keys[group[0]][2]
        x = torch.cat([cut(j) for j in group])
        results = model.compress_batch(x, q16, effort, crop if crop[:2] != (0, 0) or crop[2:] != x.shape[-2:]
                                       else None)
        for j, result in zip(group, results):
            coded[j] = result
    whash, codec_id = variants.hash_of(info, weights), _file_id(info, weights)
    out = []
    for i, p in enumerate(prepared):
        mine = [result for part, result in zip(parts, coded) if part[0] == i]
        h, w = p.x.shape[-2:]
        seamless = container.SEAMLESS if len(mine) > 1 else 0
        c = Container(codec_id, whash, q16, w, h, p.mode, p.tile, flags=seamless)
        data = payload.seal_image(c, [r.streams for r in mine], [list(r.digests) for r in mine], p.alpha)
        # The exact pixels when they make a file no larger: a flat patch, an icon or a single pixel, where a
        # learned codec spends its bytes on its borders.
        exact = _exact_streams(p, len(data))
        if exact is not None and len(lossless := payload.seal_exact(c, exact, p.alpha)) <= len(data):
            data = lossless
        out.append(data)
    return out


def _exact_streams(p: _Prepared, budget: int) -> list[bytes] | None:
    """Each tile's exact pixels (a lossless WebP), unless together they pass ``budget`` bytes (the codec's whole
    file): then they cannot make a file no larger, and they stop there, so a photo pays for about one tile's WebP."""
    h, w = p.x.shape[-2:]
    if max(h, w) > EXACT_MAX_SIDE:
        return None
    out, total = [], 0
    for top, left, th, tw in tiles(w, h, p.tile):
        out.append(exact_bytes(p.x[:, :, top:top + th, left:left + tw]))
        total += len(out[-1])
        if total > budget:
            return None
    return out


def decode(data: bytes | str | Path, device: str = "cpu", weights: str | Path | None = None) -> Image.Image:
    """Decompress .aec bytes (or the .aec file at a path) to a PIL image of the original size and mode.
    ``weights``: the weights file the image was encoded with, when it was not the shipped one."""
    return decode_many([data], device, weights=weights)[0]


@dataclass
class _Parsed:
    c: Container
    info: CodecInfo
    tiles: list[tuple[int, int, int, int]]
    payload: payload.ImagePayload

    def coded(self, k: int) -> Coded:
        """Tile ``k``'s streams and digests."""
        return Coded(self.payload.tiles[k], self.payload.digests[k])


def aec_bytes(data: bytes | str | Path) -> bytes:
    """The bytes of an .aec file given as bytes or as a path."""
    if isinstance(data, (str, Path)):
        return read_input(Path(data))
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise FormatError(f"cannot decode a {type(data).__name__}: give .aec bytes or a path")


def _parse(data: bytes, weights: str | Path | None) -> _Parsed:
    """Every container check that needs no model: fields, tiling, stream count, header and alpha digests."""
    c = container.unpack(data)
    info = variants.codec_of(c, weights)
    if info.kind != "image" or c.mode == "F":
        raise FormatError(f"this .aec file holds an array (codec {info.name!r}): use aecodec.decode_array "
                          "(CLI: decode to a .npy output)")
    if problem := tiling_problem(c.tile, c.width, c.height):
        raise FormatError(f"invalid tiling: {problem}")
    parts = tiles(c.width, c.height, c.tile)
    return _Parsed(c, info, parts, payload.open_image(c, info.streams, len(parts)))


def decode_many(datas: list[bytes | str | Path], device: str = "cpu", batch_size: int = 1,
                weights: str | Path | None = None) -> list[Image.Image]:
    """``decode`` for many files: tiles of equal size, codec and quality share one synthesis pass, up to
    ``batch_size`` at a time. Pixels are the same as decoding each file alone."""
    if batch_size < 1:
        raise AecError(f"batch size must be at least 1, not {batch_size}")
    device = resolve_device(device)
    files = [_parse(aec_bytes(d), weights) for d in datas]
    rgbs = [np.empty((f.c.height, f.c.width, 3), np.uint8) for f in files]  # 3 bytes a pixel: bounded memory
    parts, keys = [], []  # (file, tile index), (codec, quality, padded size)
    for i, f in enumerate(files):
        if f.c.flags & container.EXACT:  # the pixels themselves: no model to load
            for k, (top, left, th, tw) in enumerate(f.tiles):
                rgbs[i][top:top + th, left:left + tw] = exact_pixels(f.payload.tiles[k][0], (tw, th))
            continue
        codec = variants.load(f.info, device, weights)
        if (len(f.tiles) == 1 and max(f.c.width, f.c.height) > WINDOW) or f.c.flags & container.SEAMLESS:
            _decode_in_windows(codec, f, rgbs[i])
            continue
        for k, (_, _, th, tw) in enumerate(f.tiles):
            parts.append((i, k))
            keys.append((f.info.name, f.c.quality16, th + (-th % codec.stride), tw + (-tw % codec.stride)))
    for group in _batches(keys, batch_size):
        _, q16, ph, pw = keys[group[0]]
        info = files[parts[group[0]][0]].info
        codec = variants.load(info, device, weights)
        items = [files[i].coded(k) for i, k in (parts[j] for j in group)]
        try:
            x_hat = codec.decompress_batch(items, ph, pw, q16)
        except _PAYLOAD_ERRORS as e:  # a stream that passed the CRC but does not parse: the file's fault
            raise FormatError(f"corrupted .aec payload: {e}") from None
        for b, j in enumerate(group):
            i, k = parts[j]
            top, left, th, tw = files[i].tiles[k]
            rgbs[i][top:top + th, left:left + tw] = to_uint8(x_hat[b:b + 1, :, :th, :tw])
    return [join_image(rgb, f.c.mode, f.payload.alpha) for rgb, f in zip(rgbs, files)]


def _decode_in_windows(codec, f: _Parsed, rgb: np.ndarray) -> None:
    """Decode a large or tiled image: parse every tile's latents into one latent grid, then synthesize it in
    overlapping windows. Memory stays that of one window whatever the image size (a 1536x1536 or 5000x300 image
    no longer needs the memory of its whole synthesis at once), and tiles leave no seam: each pixel is
    synthesized from the latents around it, whichever tile they came from. Only for tiles analysed with their
    neighbours in view (``SEAMLESS`` files): latents made without them carry edge corrections of their own,
    which joined synthesis would sum, so older tiled files decode tile by tile."""
    stride, q16 = codec.stride, f.c.quality16
    grid, scale = None, 0
    for k, (top, left, th, tw) in enumerate(f.tiles):
        ph, pw = th + (-th % stride), tw + (-tw % stride)
        try:
            y = codec.decode_latents([f.coded(k)], ph, pw, q16)
        except _PAYLOAD_ERRORS as e:
            raise FormatError(f"corrupted .aec payload: {e}") from None
        if grid is None:
            scale = ph // y.shape[-2]  # pixels per latent
            last_top, last_left, lh, lw = f.tiles[-1]
            grid = y.new_zeros(1, y.shape[1], (last_top + lh + (-lh % stride)) // scale,
                               (last_left + lw + (-lw % stride)) // scale)
        grid[:, :, top // scale:top // scale + y.shape[-2], left // scale:left // scale + y.shape[-1]] = y
    for top, left, x in windowed(lambda g: codec.synthesize(g, q16), grid, WINDOW // scale, HALO // scale, scale):
        h, w = min(x.shape[-2], f.c.height - top), min(x.shape[-1], f.c.width - left)
        if h > 0 and w > 0:
            rgb[top:top + h, left:left + w] = to_uint8(x[:, :, :h, :w])


def encode_array(array, bound: float, codec: str | None = None, weights: str | Path | None = None) -> bytes:
    """Compress a 1-D or 2-D float array (or a .npy path) so that every decoded value is within ``bound`` of
    the original (guaranteed; see ``aecodec.codecs.signal``)."""
    info = variants.resolve(codec, weights, kind="array")
    if info.kind != "array":
        raise UnknownCodecError(f"codec {info.name!r} codes images, not arrays")
    if not (isinstance(bound, (int, float)) and math.isfinite(bound) and bound > 0):
        raise AecError(f"error bound must be a positive number, not {bound}")
    a = load_array(array)
    model = variants.load(info, "cpu", weights)
    windows = max(1, math.ceil(a.size / model.window))
    if windows > container.MAX_SIDE:
        raise InputImageError(f"array of {a.size} values exceeds {container.MAX_SIDE * model.window}")
    params, streams = model.compress(a.astype(np.float64).reshape(-1), float(bound))
    dtype = "float32" if a.dtype == np.float32 else "float64"
    c = Container(_file_id(info, weights), variants.hash_of(info, weights), QUALITY_STEPS * SINGLE_RATE,
                  model.window, windows, "F", 0)
    return payload.seal_array(c, payload.params_bytes(params, a.shape, dtype), streams)


def decode_array(data: bytes | str | Path, weights: str | Path | None = None) -> np.ndarray:
    """Decompress an array .aec file to a numpy array of the original shape and dtype."""
    c = container.unpack(aec_bytes(data))
    info = variants.codec_of(c, weights)
    if info.kind != "array" or c.mode != "F":
        raise FormatError(f"this .aec file holds an image (codec {info.name!r}): use aecodec.decode")
    p, streams = payload.open_array(c, info.streams)
    model = variants.load(info, "cpu", weights)
    n, before = p["n"], (c.height - 1) * c.width  # the header's windows hold the values, the last one partly
    if c.width != model.window or not (before < n <= c.height * c.width or n == before == 0):
        raise FormatError(f"corrupted .aec array file: {n} values do not fill {c.height} windows of {c.width}")
    try:
        out = model.decompress(p, streams)
    except _PAYLOAD_ERRORS as e:
        raise FormatError(f"corrupted .aec array payload: {e}") from None
    return out.reshape(p["shape"]).astype(p["dtype"])


def import_compressai(checkpoint: str | Path, arch: str, output: str | Path) -> dict:
    """Turn a CompressAI zoo checkpoint of ``arch`` (a key of ``aecodec.registry.COMPRESSAI_ARCHS``) into an
    aecodec weights file at ``output`` (provenance JSON beside it) whose files decode exactly on every machine;
    returns the written file's metadata (codec, N, M, source SHA-256)."""
    from .codecs.imported import import_compressai as run  # CompressAI itself: only when importing

    if arch not in COMPRESSAI_ARCHS:
        known = ", ".join(sorted(COMPRESSAI_ARCHS))
        raise UnknownCodecError(f"unknown CompressAI architecture {arch!r} (known: {known})")
    run(Path(checkpoint), arch, Path(output))
    return weights_metadata(output)
