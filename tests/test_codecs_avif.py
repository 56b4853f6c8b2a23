"""avif-pf: an AVIF bitstream in the container, decoded exactly, then filtered on thread-invariant kernels."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

import aecodec
from aecodec.codecs.avif import AvifLatents, avif_bytes, avif_quality, export, pack, unpack
from aecodec.errors import FormatError
from aecodec.format import container
from aecodec.models.postfilter import PostFilter, PostFilterConfig
from tests.conftest import noise_image


def _filter(tmp_path, identity: bool = False):
    """A small filter: the identity, or one with random weights (a filter that changes every pixel)."""
    torch.manual_seed(0)
    f = PostFilter(PostFilterConfig(levels=10, channels=8, layers=3, blocks=1))
    if not identity:
        with torch.no_grad():
            for p in f.parameters():
                p.normal_(0, 0.05)
    return export(f, tmp_path / "avif.safetensors")


def test_quality_maps_linearly_onto_avif_qualities_10_to_90():
    assert avif_quality(16) == 10 and avif_quality(160) == 90 and avif_quality(96) == 54
    qs = [avif_quality(q16) for q16 in range(16, 161)]
    assert qs == sorted(qs) and all(isinstance(q, int) for q in qs)


def test_the_file_holds_the_avif_of_the_image_and_an_identity_filter_decodes_to_its_pixels(tmp_path):
    w = _filter(tmp_path, identity=True)
    im = noise_image(64, 48)
    data = aecodec.encode(im, quality=4, weights=w)
    c = container.unpack(data)
    assert c.codec_id == 12 and len(c.streams) == 2  # the AVIF, then the payload's digests
    avif_file = avif_bytes(np.asarray(im), avif_quality(64))
    assert unpack(c.streams[0]) == avif_file and len(data) < len(avif_file)  # its boxes deflated
    avif = np.asarray(Image.open(io.BytesIO(avif_file)).convert("RGB"))
    assert np.array_equal(np.asarray(aecodec.decode(data, weights=w)), avif)


def test_odd_sizes_fractional_qualities_and_gray_images_round_trip(tmp_path):
    w = _filter(tmp_path)
    for im in (noise_image(33, 17), noise_image(1, 1), noise_image(40, 30, "L")):
        out = aecodec.decode(aecodec.encode(im, quality=5.5, weights=w), weights=w)
        assert out.size == im.size and out.mode == im.mode
    smaller = aecodec.encode(noise_image(64, 64), quality=3, weights=w)
    assert len(smaller) < len(aecodec.encode(noise_image(64, 64), quality=3.5, weights=w))


def test_pixels_do_not_depend_on_the_thread_count(tmp_path, sample_path):
    w = _filter(tmp_path)
    data = aecodec.encode(sample_path, quality=6, weights=w)
    before = torch.get_num_threads()
    try:
        outs = []
        for n in (1, 2):
            torch.set_num_threads(n)
            outs.append(np.asarray(aecodec.decode(data, weights=w)))
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(*outs)


def test_a_stream_that_decodes_to_other_pixels_is_refused(tmp_path):
    coder = AvifLatents()
    x = torch.from_numpy(np.array(noise_image(32, 32))).permute(2, 0, 1)[None].float() / 255
    item = coder.encode(x, 64)[0]
    other = coder.encode(x, 96)[0]
    with pytest.raises(FormatError, match="other pixels"):
        coder.decode(type(item)(other.streams, item.digests), (32, 32), 64)
    with pytest.raises(FormatError, match="where the tile has"):
        coder.decode(item, (32, 30), 64)
    with pytest.raises(FormatError, match="AVIF stream"):
        coder.decode(type(item)([pack(b"\0\0\0\x18ftypavif" + bytes(12) + b"\0\0\0\x10mdat" + bytes(8))],
                                item.digests), (32, 32), 64)
    for stream in (b"", b"\xff\x00abc", item.streams[0][:5]):
        with pytest.raises(FormatError, match="AVIF stream"):
            coder.decode(type(item)([stream], item.digests), (32, 32), 64)


def test_the_shipped_codec_beats_plain_avif_at_the_same_bytes(sample_path):
    """The shipped filter restores: higher PSNR than the AVIF it decodes, at every whole quality tried."""
    im = np.asarray(Image.open(sample_path).convert("RGB")).astype(float)
    for q in (2, 6, 9):
        data = aecodec.encode(sample_path, codec="avif-pf", quality=q)
        plain = np.asarray(Image.open(io.BytesIO(unpack(container.unpack(data).streams[0]))).convert("RGB"))
        mine = np.asarray(aecodec.decode(data))
        mse = [((a.astype(float) - im) ** 2).mean() for a in (plain, mine)]
        assert mse[1] < mse[0]


def test_a_large_image_is_one_av1_frame_and_decodes_as_the_untiled_file_does():
    """Independently coded AV1 frames meet at a visible edge, so avif-pf tiles only above 4096 pixels a side: a
    2.4-megapixel photo (tiled in 1024s by the learned codecs) is one frame, filtered in windows."""
    from aecodec.tiling import TILE_ABOVE

    rng = np.random.default_rng(4)
    smooth = np.asarray(Image.fromarray(rng.integers(0, 256, (24, 25, 3), dtype=np.uint8)).resize(
        (1600, 1500), Image.BICUBIC))
    assert smooth.shape[0] * smooth.shape[1] > TILE_ABOVE
    data = aecodec.encode(smooth, codec="avif-pf", quality=3)
    c = container.unpack(data)
    assert c.tile == 4096 and len(c.streams) == 2  # one AVIF stream, then the check
    assert np.array_equal(np.asarray(aecodec.decode(data)), np.asarray(aecodec.decode(
        aecodec.encode(smooth, codec="avif-pf", quality=3, tile=0))))
