"""PIL images <-> model tensors: colour modes, alpha, EXIF orientation, padding and cropping.

Colour is coded as 8-bit RGB by the learned codec. Grayscale is coded as RGB and returned as L; alpha is kept
losslessly in an extra PNG-compressed stream; 16-bit and float images are reduced to 8 bits with a warning.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import AecWarning, FormatError, InputImageError
from .sources import is_url, read_input

Image.MAX_IMAGE_PIXELS = 1 << 28  # format.container.MAX_PIXELS: refuse decompression bombs beyond it


def source_name(src: object) -> str:
    """How an error names an input: its path, or what kind of data it is (never the data itself)."""
    if isinstance(src, (bytes, bytearray, memoryview)):
        return f"<{len(src)} bytes>"
    if isinstance(src, np.ndarray):
        return f"<{src.dtype} array {src.shape}>"
    return str(src)


def open_image(src: str | Path | bytes | np.ndarray | Image.Image) -> Image.Image:
    """Open and fully load an image (a path, encoded bytes such as a PNG file's, a uint8 HxW, HxWx3 or HxWx4
    array, or a PIL image), EXIF orientation applied; ``InputImageError`` if it cannot be read."""
    if isinstance(src, Image.Image):
        im = src
    elif isinstance(src, np.ndarray):
        im = _from_array(src)
    elif isinstance(src, (str, Path, bytes, bytearray, memoryview)):
        if is_url(src):
            src = read_input(src)
        try:
            im = Image.open(io.BytesIO(src) if isinstance(src, (bytes, bytearray, memoryview)) else src)
            if im.mode in ("RGB", "RGBA") and any(";16" in str(t.args) for t in im.tile):
                # Pillow reads 16-bit colour as 8 bits without a word (16-bit grayscale keeps its depth)
                warnings.warn(f"16-bit {im.mode} image coded with 8 bits per sample", AecWarning, stacklevel=2)
            im.load()
        except FileNotFoundError:
            raise InputImageError(f"no such file: {src}") from None
        except IsADirectoryError:
            raise InputImageError(f"{src} is a folder") from None
        except PermissionError:
            raise InputImageError(f"cannot read {src}: permission denied") from None
        except UnidentifiedImageError:
            raise InputImageError(f"{source_name(src)} is not an image Pillow can read") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
            raise InputImageError(f"cannot read image {source_name(src)}: {e}") from None
    else:
        raise InputImageError(f"cannot code a {type(src).__name__}: give a path, image file bytes, a uint8 "
                              "array or a PIL image")
    frames = getattr(im, "n_frames", 1)
    if frames > 1:  # an animation or a multi-page file: say so rather than drop the rest silently
        warnings.warn(f"the image has {frames} frames: only the first is coded", AecWarning, stacklevel=2)
    try:
        return ImageOps.exif_transpose(im)
    except Exception:  # a broken EXIF block should not stop coding the pixels
        return im


def _from_array(a: np.ndarray) -> Image.Image:
    """A uint8 HxW (gray), HxWx3 (RGB) or HxWx4 (RGBA) array as an image."""
    modes = {2: "L", 3: {1: "L", 3: "RGB", 4: "RGBA"}}
    mode = modes.get(a.ndim) if a.ndim == 2 else modes[3].get(a.shape[-1]) if a.ndim == 3 else None
    if a.dtype != np.uint8 or mode is None or 0 in a.shape:
        raise InputImageError(f"cannot code a {a.dtype} array of shape {a.shape}: give uint8 HxW, HxWx3 or HxWx4")
    return Image.fromarray(np.ascontiguousarray(a.reshape(a.shape[:2]) if mode == "L" else a), mode)


def _to_8bit_gray(im: Image.Image) -> Image.Image:
    """I;16 / I / F images: scale the full range to 8 bits."""
    a = np.asarray(im.convert("F") if im.mode == "F" else im, dtype=np.float64)
    top = 65535.0 if im.mode.startswith("I") and a.max() > 255 else (1.0 if im.mode == "F" and a.max() <= 1 else 255.0)
    return Image.fromarray(np.clip(np.round(a / top * 255), 0, 255).astype(np.uint8), "L")


def split_image(im: Image.Image) -> tuple[torch.Tensor, str, bytes | None]:
    """-> (RGB tensor [1, 3, H, W] in [0, 1], original mode in format.container.MODES, PNG alpha plane or None)."""
    pixels, mode, alpha = split_pixels(im)
    return unit_range(pixels), mode, alpha


def unit_range(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float in [0, 1]."""
    return pixels.float().div_(255.0)


def split_pixels(im: Image.Image) -> tuple[torch.Tensor, str, bytes | None]:
    """``split_image`` with the pixels kept as uint8 [1, 3, H, W] (a quarter of the memory: large images are
    converted tile by tile)."""
    mode = im.mode
    dropped = [k for k in ("icc_profile", "exif", "xmp") if im.info.get(k)]
    if dropped:  # .aec stores pixels only; say so rather than lose colour management silently
        warnings.warn(f"metadata not stored in .aec: {', '.join(dropped)}", AecWarning, stacklevel=3)
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        warnings.warn(f"{mode} image coded with 8 bits per sample", AecWarning, stacklevel=3)
        im, mode = _to_8bit_gray(im), "L"
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        mode = im.mode
    if mode == "1":
        im, mode = im.convert("L"), "L"
    if mode == "PA":
        im, mode = im.convert("RGBA"), "RGBA"
    if mode == "La":
        im, mode = im.convert("LA"), "LA"
    if mode == "RGBa":
        im, mode = im.convert("RGBA"), "RGBA"
    alpha = None
    if mode in ("RGBA", "LA"):
        buf = io.BytesIO()
        im.getchannel("A").save(buf, "PNG", optimize=True)
        alpha = buf.getvalue()
    if mode not in ("RGB", "L", "RGBA", "LA"):  # CMYK, YCbCr, LAB, HSV: code the colours as RGB
        mode = "RGB"
    rgb = np.array(im.convert("RGB") if im.mode != "RGB" else im)
    return torch.from_numpy(rgb).permute(2, 0, 1)[None], mode, alpha


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Decoded tensor [1, 3, H, W] in [0, 1] -> HxWx3 uint8 array."""
    return x[0].mul(255).round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def join_image(rgb: np.ndarray, mode: str, alpha: bytes | None) -> Image.Image:
    """Decoded HxWx3 uint8 pixels -> PIL image in the original mode."""
    im = Image.fromarray(rgb, "RGB")
    if mode in ("L", "LA"):
        im = im.convert("L")
    if alpha is not None and mode in ("RGBA", "LA"):
        im.putalpha(_alpha_plane(alpha, im.size))
    return im


def _alpha_plane(data: bytes, size: tuple[int, int]) -> Image.Image:
    """A file's alpha stream (an 8-bit grayscale PNG of the image's size) -> its plane."""
    return _checked_plane(data, size, "L", "PNG", "alpha stream")


EXACT_MAX_SIDE = 16383  # the largest side WebP holds
_THOROUGH_BELOW = 1 << 16  # pixels: tiles this small get WebP's slowest, smallest lossless method


def exact_bytes(pixels: torch.Tensor) -> bytes:
    """uint8 pixels [1, 3, H, W] (sides up to ``EXACT_MAX_SIDE``) -> a lossless WebP of them: the exact coding.
    WebP, not PNG: its lossless mode is smaller on every kind of picture (38 bytes for one pixel or a flat
    64x64 patch, against PNG's 69 and 156), and Pillow already ships libwebp."""
    im = Image.fromarray(np.ascontiguousarray(pixels[0].permute(1, 2, 0).numpy()), "RGB")
    buf = io.BytesIO()
    # method 0 takes 0.07 s on a 768x512 photo (a twentieth of its learned encode), method 6 a few ms on a small tile
    im.save(buf, "WEBP", lossless=True, method=6 if im.width * im.height <= _THOROUGH_BELOW else 0)
    return buf.getvalue()


def exact_pixels(data: bytes, size: tuple[int, int]) -> np.ndarray:
    """An exact stream (``exact_bytes``) -> its HxWx3 uint8 pixels, refused unless it is an RGB WebP of ``size``."""
    return np.asarray(_checked_plane(data, size, "RGB", "WEBP", "exact pixel stream"))


def _checked_plane(data: bytes, size: tuple[int, int], mode: str, fmt: str, what: str) -> Image.Image:
    """An image stream of a file (a ``fmt`` image) -> its image, of ``size`` and ``mode``. The stream passed its
    CRC, but its writer may be hostile: the header is checked before any pixel is inflated (no bombs) and a broken
    image is the file's fault."""
    try:
        a = Image.open(io.BytesIO(data), formats=[fmt])
        if a.size != size or a.mode != mode:
            raise FormatError(f"{what} {a.size[0]}x{a.size[1]} {a.mode} does not match the "
                              f"{size[0]}x{size[1]} {mode} image")
        a.load()
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as e:
        raise FormatError(f"corrupted .aec {what}: {e}") from None
    return a


def pad_to(x: torch.Tensor, stride: int) -> torch.Tensor:
    """Replicate-pad [1, C, H, W] on the right and bottom to multiples of ``stride``."""
    h, w = x.shape[-2:]
    ph, pw = -h % stride, -w % stride
    if ph == 0 and pw == 0:
        return x
    # replicate padding needs pad < size for 'reflect' but not for 'replicate'
    return F.pad(x, (0, pw, 0, ph), mode="replicate")
