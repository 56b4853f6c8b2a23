"""Image quality and rate metrics, and the Bjontegaard delta rate.

Conventions follow the published Kodak numbers (CompressAI): PSNR and MS-SSIM on 8-bit RGB per image, then
averaged over images; bpp from real file bytes.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from pytorch_msssim import ms_ssim, ssim


def _tensor(a: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 -> [1, 3, H, W] float32 in [0, 255]. float32, not float64: the Gaussian windows then run as
    mkldnn convolutions, 7-10x faster on a 768x512 photo, and (MS-)SSIM moves by about 3e-7 (1e-4 dB of
    MS-SSIM at 0.99), far below any difference the benchmark reports."""
    return torch.from_numpy(np.ascontiguousarray(a, np.float32)).permute(2, 0, 1)[None]


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB of two uint8 arrays; inf when identical."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(peak**2 / mse)


def db_from_mse(mse: torch.Tensor | float, peak: float = 1.0) -> torch.Tensor:
    """PSNR in dB from mean squared errors (tensors keep their shape and gradient): the training losses' and
    reports' form of ``psnr``."""
    return 10 * torch.log10(peak**2 / torch.as_tensor(mse))


def ssim_rgb(a: np.ndarray, b: np.ndarray) -> float:
    return float(ssim(_tensor(a), _tensor(b), data_range=255, size_average=True))


def ms_ssim_rgb(a: np.ndarray, b: np.ndarray) -> float:
    """MS-SSIM (5 scales); images under 161 px on a side are padded by reflection to the minimum size."""
    x, y = _tensor(a), _tensor(b)
    need = 161
    h, w = x.shape[-2:]
    if h < need or w < need:
        pad = (0, max(0, need - w), 0, max(0, need - h))
        x = torch.nn.functional.pad(x, pad, mode="replicate")
        y = torch.nn.functional.pad(y, pad, mode="replicate")
    return float(ms_ssim(x, y, data_range=255, size_average=True))


def ms_ssim_db(v: float) -> float:
    """MS-SSIM in dB, -10 log10(1 - MS-SSIM), as the field plots it: on a linear scale every curve bunches near 1."""
    return -10 * math.log10(max(1 - v, 1e-10))


@dataclass(frozen=True)
class Metric:
    """A quality metric of a decoded image against its original: the benchmark measures every one in ``METRICS``
    per point, averages it per setting, and reports BD-rates, plots and table columns for those with ``bd_rate``.
    All are higher-is-better. ``published``: its key in the published curves; ``plotted``: the value as plotted."""

    name: str  # the field of a benchmark point and of a summary row
    label: str
    function: Callable[[np.ndarray, np.ndarray], float]
    bd_rate: bool
    published: str | None = None
    axis: str = ""
    plotted: Callable[[float], float] = float


METRICS: tuple[Metric, ...] = (
    Metric("psnr", "PSNR", psnr, bd_rate=True, published="psnr_rgb", axis="PSNR-RGB (dB)"),
    Metric("ssim", "SSIM", ssim_rgb, bd_rate=False),
    Metric("ms_ssim", "MS-SSIM", ms_ssim_rgb, bd_rate=True, published="ms_ssim_rgb",
           axis="MS-SSIM (RGB) in dB: -10 log10(1 - MS-SSIM)", plotted=ms_ssim_db),
)
BD_METRICS: tuple[Metric, ...] = tuple(m for m in METRICS if m.bd_rate)  # BD-rates, plots and table columns


def bpp(num_bytes: int, width: int, height: int) -> float:
    return 8 * num_bytes / (width * height)


def compression_ratio(num_bytes: int, width: int, height: int) -> float:
    """Raw 24-bit RGB size over coded size."""
    return 3 * width * height / num_bytes


def bd_rate(rate_a: list[float], dist_a: list[float], rate_b: list[float], dist_b: list[float]) -> float:
    """Bjontegaard delta rate of curve B against anchor A, in percent (negative: B needs fewer bits).

    Fits log-rate as a cubic polynomial of quality for each curve and integrates the difference over the
    overlapping quality interval (VCEG-M33). Returns nan when the curves do not overlap."""
    ra, da = np.log(np.asarray(rate_a, float)), np.asarray(dist_a, float)
    rb, db = np.log(np.asarray(rate_b, float)), np.asarray(dist_b, float)
    if len(ra) < 4 or len(rb) < 4:
        raise ValueError("BD-rate needs at least 4 points per curve")
    lo, hi = max(da.min(), db.min()), min(da.max(), db.max())
    if not hi > lo:
        return float("nan")
    pa, pb = np.polyfit(da, ra, 3), np.polyfit(db, rb, 3)
    ia, ib = np.polyint(pa), np.polyint(pb)
    avg_a = (np.polyval(ia, hi) - np.polyval(ia, lo)) / (hi - lo)
    avg_b = (np.polyval(ib, hi) - np.polyval(ib, lo)) / (hi - lo)
    return float((np.exp(avg_b - avg_a) - 1) * 100)
