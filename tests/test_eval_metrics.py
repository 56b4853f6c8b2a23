import math

import numpy as np
import pytest

from aecodec.eval.metrics import BD_METRICS, METRICS, bd_rate, bpp, compression_ratio, ms_ssim_rgb, psnr, ssim_rgb


def test_psnr_of_known_mse():
    a = np.zeros((8, 8, 3), np.uint8)
    b = a + 4  # MSE 16
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 16))
    assert psnr(a, a) == math.inf


def test_ssim_of_identical_images_is_one():
    a = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    assert ssim_rgb(a, a) == pytest.approx(1.0)
    assert ms_ssim_rgb(a, a) == pytest.approx(1.0)
    noisy = np.clip(a.astype(int) + 40, 0, 255).astype(np.uint8)
    assert ssim_rgb(a, noisy) < 1.0


def test_rate_helpers():
    assert bpp(1000, 100, 80) == pytest.approx(1.0)
    assert compression_ratio(1000, 100, 80) == pytest.approx(24.0)


def test_bd_rate_closed_forms():
    rate = [0.1, 0.2, 0.4, 0.8, 1.6]
    quality = [26.0, 29.0, 32.0, 35.0, 38.0]
    assert bd_rate(rate, quality, rate, quality) == pytest.approx(0.0, abs=1e-9)
    assert bd_rate(rate, quality, [r / 2 for r in rate], quality) == pytest.approx(-50.0)
    assert bd_rate(rate, quality, [r * 2 for r in rate], quality) == pytest.approx(100.0)
    assert math.isnan(bd_rate(rate, quality, rate, [q + 20 for q in quality]))


def test_every_metric_is_higher_for_a_closer_image_and_bd_metrics_are_among_them():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
    near = np.clip(a.astype(int) + rng.integers(-5, 6, a.shape), 0, 255).astype(np.uint8)
    far = np.clip(a.astype(int) + rng.integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
    for m in METRICS:
        assert m.function(a, near) > m.function(a, far), m.name
        assert m.plotted(m.function(a, near)) > m.plotted(m.function(a, far)), m.name
    assert {m.name for m in BD_METRICS} == {"psnr", "ms_ssim"} <= {m.name for m in METRICS}
