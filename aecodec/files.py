"""Coding files on disk, as the command line and folder runs do: inputs are refused from their header (not an
image, too large, already an .aec file) and outputs before any work (exists, a folder, no such folder), so a bad
argument costs no model load; every output is written atomically, so no reader ever sees part of a file.

Torch-free until a function codes: checks answer before PyTorch loads.
"""
from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from .atomic import write_atomic
from .errors import AecError, AecWarning, InputImageError, OutputError
from .format.container import MAGIC
from .sources import is_url, read_input, resolve_device

# Images above this are refused unless asked for: 100 MP codes within the 2.5 GB memory bar in tiles
# (bench/results/memory_100mp.json: 1.9 GiB encode, 2.2 GiB decode); a small file can declare a huge image.
MAX_PIXELS = 120_000_000
# formats that store no alpha: an RGBA/LA image is flattened (with a warning), as image editors do on export
_NO_ALPHA = {"JPEG", "BMP", "PPM", "EPS", "PCX"}
# Lossy output formats re-code the decoded pixels. At this quality (and 4:4:4 for JPEG) a decoded Kodak photo
# loses little more (docs/results.md); Pillow's defaults (75, 4:2:0) cost 1-2 dB.
OUTPUT_QUALITY = 95
_LOSSY = {"JPEG", "WEBP", "AVIF"}


@dataclass(frozen=True)
class EncodeOptions:
    """How to encode an image: a quality or at most one rate target (``bpp``, ``max_bytes``, ``psnr``), and
    the largest image accepted (``max_pixels``, 0: any). One picklable value, as worker processes need."""

    codec: str | None = None
    quality: float | None = None
    bpp: float | None = None
    max_bytes: int | None = None
    psnr: float | None = None
    effort: int = 0
    weights: str | Path | None = None
    device: str = "cpu"
    max_pixels: int = MAX_PIXELS

    def __post_init__(self) -> None:
        if sum(v is not None for v in (self.quality, self.bpp, self.max_bytes, self.psnr)) > 1:
            raise AecError("give at most one of quality, bpp, max_bytes, psnr")

    @property
    def targets(self) -> bool:
        """Whether a rate target picks the quality (a search per image) rather than ``quality``."""
        return any(v is not None for v in (self.bpp, self.max_bytes, self.psnr))


def check_output(path: Path, force: bool) -> None:
    """Refuse an output that is a folder, exists (unless ``force``), or has no folder to go in or none this
    process may write in, before any work."""
    if path.is_dir():
        raise OutputError(f"{path} is a folder: name an output file")
    if path.exists() and not force:
        raise OutputError(f"{path} exists (use --force to overwrite)")
    check_folder(path.parent)


def check_folder(folder: Path, create: bool = False) -> None:
    """Refuse an output folder that is missing, is a file, or is not writable (permissions, a read-only
    file system). ``create``: a missing folder is made, if the nearest folder above it is writable."""
    if create and not folder.exists():
        above = next(p for p in folder.parents if p.exists())
        check_folder(above)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot make folder {folder}: {e.strerror or e}") from None
    if not folder.exists():
        raise OutputError(f"output folder {folder} does not exist")
    if not folder.is_dir():
        raise OutputError(f"{folder} is a file, not a folder: name an output folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write in {folder}: permission denied or a read-only file system")


def check_encode_output(path: Path, force: bool) -> None:
    """``check_output`` for an .aec output: a suffix that names an image format would put .aec bytes under a
    name every viewer misreads."""
    Image.init()
    ext = path.suffix.lower()
    if ext != ".aec" and ext in Image.EXTENSION:
        raise OutputError(f"{path}: encode writes .aec files, and {ext} names an image format (decode writes images)")
    check_output(path, force)


def is_aec(path: Path | bytes) -> bool:
    """Whether a file (or bytes) starts like an .aec file (unreadable files are left to their reader to report)."""
    if isinstance(path, bytes):
        return path[:len(MAGIC)] == MAGIC
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def check_image(src: Path | bytes, max_pixels: int = MAX_PIXELS, name: str | None = None) -> None:
    """Refuse, from its header and before anything loads, an input (a file, or bytes read from a pipe: then
    ``name`` says where from) that is already an .aec file (encoding it would lose quality twice), no image, or
    larger than ``max_pixels`` (0: any)."""
    name = name or str(src)
    if is_aec(src):
        raise InputImageError(f"{name} is already an .aec file (decode it with `aecodec decode`)")
    if isinstance(src, bytes) and not src:
        raise InputImageError(f"{name} is empty: no image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the limit is ours, just below
            bound, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                im = Image.open(io.BytesIO(src) if isinstance(src, bytes) else src)
            finally:
                Image.MAX_IMAGE_PIXELS = bound
        with im:
            check_pixels(im, max_pixels, name)
    except FileNotFoundError:
        raise InputImageError(f"no such file: {name}") from None
    except IsADirectoryError:
        raise InputImageError(f"{name} is a folder") from None
    except PermissionError:
        raise InputImageError(f"cannot read {name}: permission denied") from None
    except UnidentifiedImageError:
        raise InputImageError(f"{name} is not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise InputImageError(f"cannot read image {name}: {e}") from None


def check_pixels(im: Image.Image, max_pixels: int, name: str | Path) -> None:
    """Refuse an opened (not yet loaded) image larger than ``max_pixels`` (0: any)."""
    if max_pixels and im.width * im.height > max_pixels:
        raise InputImageError(f"{name}: {im.width}x{im.height} is {im.width * im.height / 1e6:.3g} megapixels, above "
                              f"the limit of {max_pixels / 1e6:.3g} (--max-pixels N raises it, 0 removes it)")


def image_format(path: Path) -> str:
    """The Pillow format an image output's suffix names; an unknown suffix or .aec is refused before a decode."""
    ext = path.suffix.lower()
    Image.init()
    if ext not in Image.EXTENSION:
        raise OutputError(f"unknown image format for output {path} (use .png, .jpg, .webp, ...)")
    if Image.EXTENSION[ext] == "AEC":
        raise OutputError(f"{path}: decode writes images (.png, .jpg, .webp, ...); an .aec output would code "
                          "the decoded image a second time")
    return Image.EXTENSION[ext]


def save_image(im: Image.Image, out: Path | None, f: BinaryIO, quality: int = OUTPUT_QUALITY) -> None:
    """Write a decoded image to the open file ``f`` in the format of ``out``'s suffix (PNG for None); JPEG, WebP
    and AVIF at ``quality`` (1-100; 100 is lossless WebP), JPEG without chroma subsampling. Formats without
    alpha get the image flattened, with an ``AecWarning``."""
    fmt = "PNG" if out is None else image_format(out)
    if fmt in _NO_ALPHA and im.mode in ("RGBA", "LA"):
        warnings.warn(f"{fmt} stores no alpha: the alpha channel was dropped", AecWarning, stacklevel=3)
        im = im.convert("RGB" if im.mode == "RGBA" else "L")
    if not 1 <= quality <= 100:
        raise OutputError(f"output quality must be 1-100, not {quality}")
    options = {}
    if fmt in _LOSSY:
        options = {"quality": quality}
        if fmt == "JPEG":
            options["subsampling"] = 0
        elif fmt == "WEBP" and quality == 100:
            options["lossless"] = True
    try:
        im.save(f, fmt, **options)
    except (KeyError, ValueError, OSError) as e:
        raise AecError(f"cannot write this image as {fmt}: {e}") from None


def image_bytes(im: Image.Image, out: Path | None, quality: int = OUTPUT_QUALITY) -> bytes:
    """A decoded image in the format of ``out``'s suffix (PNG for None), as ``save_image`` writes it."""
    buf = io.BytesIO()
    save_image(im, out, buf, quality)
    return buf.getvalue()


def encode_image(src: str | Path | bytes | Image.Image, options: EncodeOptions) -> bytes:
    """.aec bytes of an image at ``options``' quality, or at the quality its rate target picks (a target out
    of reach is an ``AecError`` that says what is reachable)."""
    from .api import encode

    o, device = options, resolve_device(options.device)
    if o.targets:
        from .ratecontrol import encode_to_target

        return encode_to_target(src, bpp=o.bpp, max_bytes=o.max_bytes, psnr=o.psnr, codec=o.codec, device=device,
                                effort=o.effort, weights=o.weights, strict=True)
    return encode(src, codec=o.codec, quality=o.quality, device=device, effort=o.effort, weights=o.weights)


def encode_file(src: Path | str, out: Path, options: EncodeOptions, force: bool = False) -> bytes:
    """Encode the image file (or URL) ``src`` to ``out`` (atomically), every refusal before the encode; returns
    the bytes."""
    if is_url(src):
        src, name = read_input(src), src
        check_image(src, options.max_pixels, name)
    else:
        check_image(src, options.max_pixels)
    check_encode_output(out, force)
    data = encode_image(src, options)
    write_atomic(out, data)
    return data


def decode_data(data: bytes, out: Path | None, device: str = "cpu",
                weights: str | Path | None = None) -> bytes | Image.Image:
    """What decoding .aec bytes for ``out`` gives: an array's .npy bytes (``out`` must then be a .npy file), or
    the image; None stands for a stream (PNG). An output format that cannot be written is refused before the
    decode, not after."""
    from .fileinfo import inspect

    if inspect(data).mode == "F":
        if out is not None and out.suffix.lower() != ".npy":
            raise OutputError(f"this .aec file holds an array: write it to a .npy file, not {out.name}")
        from .api import decode_array
        from .arrays import to_npy

        return to_npy(decode_array(data, weights=weights))
    if out is not None:
        image_format(out)
    from .api import decode  # PyTorch: only once every refusal has been made

    return decode(data, device=resolve_device(device), weights=weights)


def decode_file(src: Path, out: Path, device: str = "cpu", weights: str | Path | None = None,
                force: bool = False, quality: int = OUTPUT_QUALITY) -> bytes | Image.Image:
    """Decode the .aec file ``src`` to ``out`` (atomically), in the format of its suffix (a lossy one at
    ``quality``); returns what was decoded (``decode_data``). An image is written straight into the temporary
    file: a 100 MP PNG is never held in memory as well."""
    check_output(out, force)
    if not 1 <= quality <= 100:
        raise OutputError(f"output quality must be 1-100, not {quality}")
    d = decode_data(read_input(src), out, device, weights)
    write_atomic(out, d if isinstance(d, bytes) else lambda f: save_image(d, out, f, quality))
    return d

