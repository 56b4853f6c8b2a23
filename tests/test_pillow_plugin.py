import numpy as np
from PIL import Image

import aecodec

from tests.conftest import noise_image


def test_pillow_opens_and_saves_aec(tmp_path):
    im = noise_image(50, 40)
    path = tmp_path / "x.aec"
    im.save(path, quality=7)
    data = path.read_bytes()
    assert data == aecodec.encode(im, quality=7)
    with Image.open(path) as opened:
        assert opened.format == "AEC" and opened.size == (50, 40) and opened.mode == "RGB"
        pixels = np.asarray(opened)
    assert np.array_equal(pixels, np.asarray(aecodec.decode(data)))
    assert Image.MIME["AEC"] == "image/x-aec"
