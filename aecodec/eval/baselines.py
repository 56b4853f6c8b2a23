"""Classical codecs through Pillow (and JPEG XL through imagecodecs when installed), for rate-distortion
comparisons. Each codec maps a sweep of settings to (bytes, decoded image); rates come from the real bytes."""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Callable

from PIL import Image, features


@dataclass(frozen=True)
class Baseline:
    name: str
    settings: tuple[float, ...]  # the sweep, in the codec's own quality unit
    encode: Callable[[Image.Image, float], bytes]
    available: Callable[[], bool] = lambda: True

    def decode(self, data: bytes) -> Image.Image:
        im = Image.open(io.BytesIO(data))
        im.load()
        return im.convert("RGB")


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _jpeg2000(im: Image.Image, target_bpp: float) -> bytes:
    # Rate given as a compression ratio over 24-bit RGB; irreversible 9/7 wavelet with the colour transform on
    # (Pillow's default mct=0 costs ~2 dB).
    return _save(im, "JPEG2000", quality_mode="rates", quality_layers=[24.0 / target_bpp], irreversible=True,
                 mct=1)


def _jpegxl_available() -> bool:
    try:
        import imagecodecs

        return bool(imagecodecs.JPEGXL.available)
    except Exception:
        return False


def _jpegxl(im: Image.Image, distance: float) -> bytes:
    import imagecodecs
    import numpy as np

    return imagecodecs.jpegxl_encode(np.asarray(im), distance=distance, effort=7)


class _JxlBaseline(Baseline):
    def decode(self, data: bytes) -> Image.Image:
        import imagecodecs

        return Image.fromarray(imagecodecs.jpegxl_decode(data)).convert("RGB")


JPEG_Q = (5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95)
BASELINES: dict[str, Baseline] = {b.name: b for b in [
    Baseline("jpeg", JPEG_Q, lambda im, q: _save(im, "JPEG", quality=int(q), optimize=True, subsampling=2),
             lambda: features.check("jpg")),
    Baseline("jpeg444", JPEG_Q, lambda im, q: _save(im, "JPEG", quality=int(q), optimize=True, subsampling=0),
             lambda: features.check("jpg")),
    Baseline("webp", (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95),
             lambda im, q: _save(im, "WEBP", quality=int(q), method=6), lambda: features.check("webp")),
    Baseline("jpeg2000", (0.08, 0.12, 0.18, 0.25, 0.35, 0.5, 0.7, 1.0, 1.4, 2.0, 2.8), _jpeg2000,
             lambda: features.check("jpg_2000")),
    Baseline("avif", (5, 15, 25, 35, 45, 55, 65, 75, 85, 92),
             lambda im, q: _save(im, "AVIF", quality=int(q), subsampling="4:4:4", speed=4),
             lambda: features.check("avif")),
    _JxlBaseline("jpegxl", (12.0, 8.0, 6.0, 4.0, 3.0, 2.0, 1.5, 1.0, 0.7, 0.5), _jpegxl, _jpegxl_available),
]}
