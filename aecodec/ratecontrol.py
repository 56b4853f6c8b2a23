"""Rate control: pick the quality that meets a file-size or PSNR target in two to four encodes.

Rate and distortion are monotone in the quality of a variable-rate codec, and smooth: log-bytes and PSNR are
close to linear over a few quality steps, so the search interpolates rather than bisects. The first probe is
where the codec's published Kodak curve (its provenance) meets the target; the curve shifted through that
measurement places the second; then the secant through the two nearest the target, interpolating once they
straddle it (and halving the bracket, should that stall). Qualities that code alike (``rate_steps``) are
measured once. The search stops where the prediction lands on a quality already known to meet the target, so
the file always meets it, and is the best quality the measurements predict (exact when its neighbour was
measured too). An unreachable target shows at the first probe of an end quality.
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image
from tqdm import tqdm

from .api import decode, encode, load
from .errors import AecError, AecWarning
from .eval.metrics import psnr as psnr_db
from .format.container import QUALITY_STEPS
from .image import open_image
from .registry import CodecInfo, quality_range
from .variants import resolve

INTERPOLATED = 5  # probes placed by interpolation before the search halves the bracket instead


@dataclass
class _Search:
    """A monotone search for the crossing of ``f`` (increasing in the setting, lo..hi) with ``target``:
    ``highest`` wants the highest setting with f <= target (a size), else the lowest with f >= target (a PSNR)."""

    f: Callable[[int], float]
    target: float
    lo: int
    hi: int
    highest: bool
    prior: list[tuple[float, float]] = field(default_factory=list)  # (q, f) of a typical image, q ascending
    known: dict[int, float] = field(default_factory=dict)

    def ok(self, q: int) -> bool:
        return self.known[q] <= self.target if self.highest else self.known[q] >= self.target

    def probe(self, q: int) -> bool:
        if q not in self.known:
            self.known[q] = self.f(q)
        return self.ok(q)

    def run(self) -> int | None:
        """The chosen setting, or None when even the end one misses the target."""
        step = 1 if self.highest else -1
        end = self.lo if self.highest else self.hi  # the setting that meets any reachable target
        while True:
            good = [q for q in self.known if self.ok(q)]
            best = (max if self.highest else min)(good) if good else None
            bad = [q for q in self.known if not self.ok(q) and (best is None or (q > best) == self.highest)]
            other = (min if self.highest else max)(bad) if bad else None
            # the settings strictly between best and other, from first to last, may still be the answer
            first = end if best is None else best + step
            last = (self.hi if self.highest else self.lo) if other is None else other - step
            if (last - first) * step < 0:  # none: best is the answer
                return best
            if best is None and other == end:
                return None
            if len(self.known) < INTERPOLATED:
                guess = self._predict()
                q = math.floor(guess) if self.highest else math.ceil(guess)
                if best is not None and (q - best) * step <= 0:
                    return best  # the measurements predict no better setting that meets the target
                q = min(max(q, min(first, last)), max(first, last))
            else:
                q = (first + last) // 2 if self.highest else (first + last + 1) // 2
            self.probe(q)

    def _prior_slope(self, q: float) -> float:
        """The prior curve's slope at ``q`` (0 without a prior)."""
        if len(self.prior) < 2:
            return 0.0
        qs, vs = zip(*self.prior)
        i = min(max(int(np.searchsorted(qs, q)) - 1, 0), len(qs) - 2)
        return (vs[i + 1] - vs[i]) / (qs[i + 1] - qs[i])

    def _predict(self) -> float:
        """The setting where f meets the target, from the measurements (and the prior curve while there are few)."""
        pts = sorted(self.known.items())
        below = [p for p in pts if p[1] <= self.target]
        above = [p for p in pts if p[1] > self.target]
        if below and above:  # interpolate across the crossing
            (qa, va), (qb, vb) = below[-1], above[0]
            return qa + (self.target - va) * (qb - qa) / (vb - va)
        side = below[::-1] or above  # one side only: nearest the target first
        if side:
            (qa, va) = side[0]
            rising = [(qb, vb) for qb, vb in side[1:] if (qb - qa) * (vb - va) > 0]
            if rising:  # the secant through the nearest measurement and the next that rises from it, no flatter
                qb, vb = rising[0]  # than half the prior's slope there (neighbours may code almost alike)
                slope = max((vb - va) / (qb - qa), self._prior_slope(qa) / 2)
                return qa + (self.target - va) / slope
        if not self.prior:
            if not side:
                return (self.lo + self.hi) / 2
            return qa + (self.hi - self.lo) / 4 * (1 if va < self.target else -1)
        # the prior curve, shifted through the measurement nearest the target
        curve = self.prior
        shift = side[0][1] - float(np.interp(side[0][0], *zip(*curve))) if side else 0.0
        qs, vs = zip(*curve)
        vs = np.asarray(vs) + shift
        if self.target <= vs[0] or self.target >= vs[-1]:  # beyond the curve: extrapolate its end slope
            i = 0 if self.target <= vs[0] else len(qs) - 2
            return qs[i] + (self.target - vs[i]) * (qs[i + 1] - qs[i]) / (vs[i + 1] - vs[i])
        return float(np.interp(self.target, vs, qs))


def _kodak_curve(info: CodecInfo, key: str, pixels: int) -> list[tuple[int, float]]:
    """The codec's mean Kodak curve from its provenance, as (quality16, log bytes of an image this size | PSNR)."""
    try:
        rows = json.loads(info.weights_path.with_suffix(".json").read_text())["kodak"]
        curve = [(round(QUALITY_STEPS * r["quality"]), math.log(r["bpp"] * pixels / 8) if key == "bpp" else r["psnr"])
                 for r in rows]
    except (AttributeError, OSError, KeyError, TypeError, ValueError):
        return []
    curve.sort()
    return curve if len(curve) >= 2 and all(b[1] > a[1] for a, b in zip(curve, curve[1:])) else []


def encode_to_target(image: str | Path | Image.Image, *, bpp: float | None = None, max_bytes: int | None = None,
                     psnr: float | None = None, codec: str | None = None, device: str = "cpu", effort: int = 0,
                     weights: str | Path | None = None, strict: bool = False) -> bytes:
    """Encode at the highest quality whose file fits ``bpp`` or ``max_bytes``, or at the lowest quality whose
    decoded PSNR reaches ``psnr`` (exactly one target), as the search above measures and predicts it: the file
    always meets the target. Out-of-reach targets give the nearest end, with a warning, or with ``strict`` an
    ``AecError`` that says what is reachable (the command line: no file is written). With ``effort`` > 0 the
    search itself runs at effort 0 and only the chosen quality is refined (refinement lowers the rate and barely
    moves PSNR, so a size target still holds)."""
    if sum(t is not None for t in (bpp, max_bytes, psnr)) != 1:
        raise AecError("give exactly one of bpp, max_bytes, psnr")
    info = resolve(codec, weights)
    im = open_image(image)
    lo, hi = (QUALITY_STEPS * q for q in quality_range(info))
    # the qualities whose files differ (several quality steps may code alike), searched by index
    steps = [q for q in load(info.name, device, weights).rate_steps or range(lo, hi + 1) if lo <= q <= hi]
    cache: dict[int, bytes] = {}
    with tqdm(total=3, desc="rate control", unit="trial", leave=False, disable=None) as bar:

        def coded(i: int) -> bytes:
            if i not in cache:
                cache[i] = encode(im, codec=info.name, quality=steps[i] / QUALITY_STEPS, device=device, weights=weights)
                bar.update(1)
            return cache[i]

        def prior(key: str) -> list[tuple[float, float]]:
            curve = _kodak_curve(info, key, im.width * im.height)
            return [(float(np.interp(q, steps, range(len(steps)))), v) for q, v in curve]

        top = len(steps) - 1
        if psnr is None:
            limit = max_bytes if max_bytes is not None else bpp * im.width * im.height / 8
            best = _Search(lambda i: math.log(len(coded(i))), math.log(limit), 0, top, True, prior("bpp")).run()
            if best is None:
                smallest = len(coded(0))
                _unreachable(f"target not reachable: the smallest file is {smallest} bytes", strict)
                return _refined(im, info.name, weights, steps[0], device, effort,
                                lambda data: len(data) <= smallest, coded(0))
            return _refined(im, info.name, weights, steps[best], device, effort, lambda data: len(data) <= limit,
                            coded(best))
        ref = np.asarray(im.convert("RGB"))

        def quality_of(data: bytes) -> float:
            return psnr_db(ref, np.asarray(decode(data, weights=weights).convert("RGB")))

        search = _Search(lambda i: quality_of(coded(i)), psnr, 0, top, False, prior("psnr"))
        best = search.run()
        if best is None:
            _unreachable(f"PSNR {psnr} dB not reachable: the highest quality gives {search.known[top]:.2f} dB",
                         strict)
            return coded(top)
        return _refined(im, info.name, weights, steps[best], device, effort, lambda data: quality_of(data) >= psnr,
                        coded(best))


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
