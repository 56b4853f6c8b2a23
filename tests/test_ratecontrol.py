import numpy as np
import pytest
from PIL import Image

import aecodec
from aecodec.eval.metrics import psnr
from aecodec.ratecontrol import encode_to_target
from aecodec.registry import quality_range
from aecodec.variants import resolve
from tests.conftest import noise_image


@pytest.fixture
def encodes(monkeypatch):
    """How many encodes the search makes (each is the cost of a plain encode)."""
    import aecodec.ratecontrol as rc

    count = {"n": 0}
    plain = rc.encode

    def counted(*args, **kwargs):
        count["n"] += 1
        return plain(*args, **kwargs)

    monkeypatch.setattr(rc, "encode", counted)
    return count


def _steps() -> list[int]:
    """The default codec's distinct qualities (in 1/16), the grid the search moves on."""
    info = resolve(None)
    lo, hi = (16 * q for q in quality_range(info))
    return [q for q in aecodec.load(info.name).rate_steps or range(lo, hi + 1) if lo <= q <= hi]


def test_bpp_target_is_met_in_a_few_encodes(sample_path, encodes):
    data = encode_to_target(sample_path, bpp=0.5)
    fi = aecodec.inspect(data)
    assert fi.bpp <= 0.5
    assert encodes["n"] <= 4
    # within two distinct steps of the highest quality that fits: three steps higher overshoots
    steps = _steps()
    i = steps.index(round(16 * fi.quality))
    above = aecodec.encode(sample_path, quality=steps[min(i + 3, len(steps) - 1)] / 16)
    assert i + 3 >= len(steps) or 8 * len(above) / (384 * 256) > 0.5


def test_size_and_psnr_targets(sample_path, encodes):
    assert len(encode_to_target(sample_path, max_bytes=3000)) <= 3000
    im = Image.open(sample_path).convert("RGB")
    encodes["n"] = 0
    data = encode_to_target(im, psnr=30.0)
    assert encodes["n"] <= 4
    q = aecodec.inspect(data).quality
    assert psnr(np.asarray(im), np.asarray(aecodec.decode(data))) >= 30.0
    # within two distinct steps of the lowest quality that reaches it: three steps lower misses
    steps = _steps()
    i = steps.index(round(16 * q))
    if i >= 3:
        lower = aecodec.decode(aecodec.encode(im, quality=steps[i - 3] / 16))
        assert psnr(np.asarray(im), np.asarray(lower)) < 30.0
    with pytest.warns(aecodec.AecWarning):  # noise caps what any quality reaches
        encode_to_target(noise_image(96, 64), psnr=60.0)
    with pytest.raises(aecodec.AecError):
        encode_to_target(im)


def test_targets_beyond_an_end_take_one_encode(sample_path, encodes):
    assert aecodec.inspect(encode_to_target(sample_path, bpp=20)).quality == 10
    assert encodes["n"] == 1


def test_strict_targets_out_of_reach_raise_with_what_is_reachable():
    from aecodec.errors import AecError
    from tests.conftest import noise_image

    im = noise_image(64, 64)
    with pytest.raises(AecError, match=r"PSNR 80 dB not reachable: the highest quality gives \d+\.\d\d dB"):
        encode_to_target(im, psnr=80, strict=True)
    with pytest.raises(AecError, match="not reachable: the smallest file is"):
        encode_to_target(im, max_bytes=10, strict=True)
