import numpy as np
from PIL import Image, UnidentifiedImageError

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


def test_open_reads_the_header_and_load_decodes(tmp_path, sample_path):
    """``Image.open(p).size`` costs a header read, not a neural decode; damage in the payload shows at load."""
    import time

    import pytest

    path = tmp_path / "s.aec"
    path.write_bytes(aecodec.encode(sample_path, quality=2))
    aecodec.decode(path.read_bytes())  # models loaded and warm: the comparison times only the work itself
    t0 = time.perf_counter()
    with Image.open(path) as im:
        size, mode = im.size, im.mode
        t_open = time.perf_counter() - t0
        im.load()
    t_both = time.perf_counter() - t0
    assert size == Image.open(sample_path).size
    assert mode == "RGB" and t_open < t_both / 10
    with pytest.raises(UnidentifiedImageError):  # an array .aec: refused at open, like any unreadable image
        (tmp_path / "a.aec").write_bytes(aecodec.encode_array(np.arange(100.0), 0.1))
        Image.open(tmp_path / "a.aec")
