"""Rate control: pick the quality that meets a file-size or PSNR target, by bisection over 1/16 quality steps.

Rate and distortion are monotone in the quality of the variable-rate model, so ~8 encodes find the setting.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..api import decode, encode
from ..errors import AecError, AecWarning
from ..image import open_image
from ..registry import quality_range
from ..variants import resolve
from .metrics import psnr as psnr_db


def _bisect(lo: int, hi: int, ok) -> int | None:
    """Largest q16 in [lo, hi] with ok(q16) true, assuming ok is true below some point and false above."""
    if not ok(lo):
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def encode_to_target(image: str | Path | Image.Image, *, bpp: float | None = None, max_bytes: int | None = None,
                     psnr: float | None = None, codec: str | None = None, device: str = "cpu", effort: int = 0,
                     weights: str | Path | None = None, strict: bool = False) -> bytes:
    """Encode at the highest quality whose file fits ``bpp`` or ``max_bytes``, or at the lowest quality whose
    decoded PSNR reaches ``psnr`` (exactly one target). Out-of-reach targets give the nearest end, with a warning,
    or with ``strict`` an ``AecError`` that says what is reachable (the command line: no file is written).
    With ``effort`` > 0 the search itself runs at effort 0 and only the chosen quality is refined (refinement
    lowers the rate and barely moves PSNR, so a size target still holds)."""
    if sum(t is not None for t in (bpp, max_bytes, psnr)) != 1:
        raise AecError("give exactly one of bpp, max_bytes, psnr")
    info = resolve(codec, weights)
    im = open_image(image)
    lo, hi = (16 * q for q in quality_range(info))
    cache: dict[int, bytes] = {}
    # a bisection over 1/16 quality steps: at most log2 of their count, plus the ends
    with tqdm(total=math.ceil(math.log2(hi - lo + 1)) + 2, desc="rate control", unit="trial", leave=False,
              disable=None) as bar:

        def coded(q16: int) -> bytes:
            if q16 not in cache:
                cache[q16] = encode(im, codec=info.name, quality=q16 / 16, device=device, weights=weights)
                bar.update(1)
            return cache[q16]

        if psnr is None:
            limit = max_bytes if max_bytes is not None else bpp * im.width * im.height / 8
            fits = lambda data: len(data) <= limit  # noqa: E731
            best = _bisect(lo, hi, lambda q: fits(coded(q)))
            if best is None:
                _unreachable(f"target not reachable: the smallest file is {len(coded(lo))} bytes", strict)
                smallest = len(coded(lo))
                return _refined(im, info.name, weights, lo, device, effort, lambda data: len(data) <= smallest,
                                coded(lo))
            return _refined(im, info.name, weights, best, device, effort, fits, coded(best))
        ref = np.asarray(im.convert("RGB"))
        def reaches(data: bytes) -> bool:
            return psnr_db(ref, np.asarray(decode(data, weights=weights).convert("RGB"))) >= psnr

        # psnr grows with quality: find the largest q that still misses the target, then step one up
        below = _bisect(lo, hi, lambda q: not reaches(coded(q)))
        if below is None:
            return _refined(im, info.name, weights, lo, device, effort, reaches, coded(lo))
        if below == hi:
            best_psnr = psnr_db(ref, np.asarray(decode(coded(hi), weights=weights).convert("RGB")))
            _unreachable(f"PSNR {psnr} dB not reachable: the highest quality gives {best_psnr:.2f} dB", strict)
            return coded(hi)
        return _refined(im, info.name, weights, below + 1, device, effort, reaches, coded(below + 1))


def _unreachable(message: str, strict: bool) -> None:
    if strict:
        raise AecError(message)
    warnings.warn(message, AecWarning, stacklevel=3)


def _refined(im: Image.Image, codec: str, weights: str | Path | None, q16: int, device: str, effort: int, ok,
             plain: bytes) -> bytes:
    """The chosen quality at the asked effort, if that file still meets the target (else the plain one)."""
    if effort == 0:
        return plain
    data = encode(im, codec=codec, quality=q16 / 16, device=device, effort=effort, weights=weights)
    return data if ok(data) else plain
