import numpy as np
import pytest
from PIL import Image

import aecodec
from aecodec.eval.metrics import psnr
from aecodec.eval.ratecontrol import encode_to_target
from tests.conftest import noise_image


def test_bpp_target_is_met_from_below(sample_path):
    data = encode_to_target(sample_path, bpp=0.5)
    fi = aecodec.inspect(data)
    assert fi.bpp <= 0.5
    # one 1/16 step higher would overshoot
    above = aecodec.encode(sample_path, quality=fi.quality + 1 / 16)
    assert 8 * len(above) / (384 * 256) > 0.5


def test_size_and_psnr_targets(sample_path):
    assert len(encode_to_target(sample_path, max_bytes=3000)) <= 3000
    im = Image.open(sample_path).convert("RGB")
    data = encode_to_target(im, psnr=30.0)
    q = aecodec.inspect(data).quality
    assert psnr(np.asarray(im), np.asarray(aecodec.decode(data))) >= 30.0
    lower = aecodec.decode(aecodec.encode(im, quality=q - 1 / 16))
    assert psnr(np.asarray(im), np.asarray(lower)) < 30.0
    with pytest.warns(aecodec.AecWarning):  # noise caps what any quality reaches
        encode_to_target(noise_image(96, 64), psnr=60.0)
    with pytest.raises(aecodec.AecError):
        encode_to_target(im)


def test_strict_targets_out_of_reach_raise_with_what_is_reachable():
    from aecodec.errors import AecError
    from tests.conftest import noise_image

    im = noise_image(64, 64)
    with pytest.raises(AecError, match=r"PSNR 80 dB not reachable: the highest quality gives \d+\.\d\d dB"):
        encode_to_target(im, psnr=80, strict=True)
    with pytest.raises(AecError, match="not reachable: the smallest file is"):
        encode_to_target(im, max_bytes=10, strict=True)
