"""Every registered codec, through the container, against its in-memory decode; shipped weights' quality."""
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

import aecodec
from aecodec.eval.metrics import psnr
from aecodec.format import container as bitstream
from aecodec.image import pad_to, split_image, to_uint8
from tests.conftest import KODAK, noise_image

pytestmark = pytest.mark.slow

CODECS = [c.name for c in aecodec.list_codecs("image") if c.weights]  # imported ones: test_codecs_imported.py


@pytest.mark.parametrize("name", CODECS)
def test_container_decode_equals_in_memory_decode(name, sample_path):
    info = aecodec.get_codec(name)
    codec = aecodec.load(name)
    x, _, _ = split_image(Image.open(sample_path))
    q16 = 16 * info.default_quality
    coded = codec.compress_batch(pad_to(x, codec.stride), q16)[0]
    streams = coded.streams
    direct = codec.decompress_batch([coded], *pad_to(x, codec.stride).shape[-2:], q16)
    direct = to_uint8(direct[:, :, : x.shape[2], : x.shape[3]])
    data = aecodec.encode(sample_path, codec=name)
    assert bitstream.unpack(data).streams[:len(streams)] == streams
    assert np.array_equal(np.asarray(aecodec.decode(data)), direct)


@pytest.mark.parametrize("name", CODECS)
@pytest.mark.parametrize("size", [(1, 1), (17, 33), (513, 769)])
def test_odd_sizes(name, size):
    im = noise_image(*size)
    out = aecodec.decode(aecodec.encode(im, codec=name, quality=3))
    assert out.size == im.size and out.mode == "RGB"
    if min(size) > 16:
        assert psnr(np.asarray(im), np.asarray(out)) > 20


@pytest.mark.parametrize("name", CODECS)
def test_same_bytes_and_pixels_with_1_and_2_threads(name, sample_path):
    before = torch.get_num_threads()
    try:
        results = []
        for n in (1, 2):
            torch.set_num_threads(n)
            data = aecodec.encode(sample_path, codec=name, quality=2.5 if aecodec.get_codec(name).fractional else 2)
            results.append((data, np.asarray(aecodec.decode(data))))
    finally:
        torch.set_num_threads(before)
    assert results[0][0] == results[1][0]
    assert np.array_equal(results[0][1], results[1][1])


def test_batched_coding_gives_the_same_bytes_and_pixels_as_single(sample_path):
    """Files never depend on their batch: same-size images and tiles share passes, each file stays its own."""
    images = [Image.open(sample_path).convert("RGB"), noise_image(384, 256, seed=1), noise_image(100, 70, seed=2),
              noise_image(700, 300, seed=3), Image.open(sample_path).convert("L")]
    single = [aecodec.encode(im, quality=3.5, tile=256 if im.width == 700 else None) for im in images]
    batched = aecodec.encode_many(images[:3], quality=3.5, batch_size=3)
    batched += aecodec.encode_many(images[3:4], quality=3.5, tile=256, batch_size=4)  # six tiles, two sizes
    batched += aecodec.encode_many(images[4:], quality=3.5, batch_size=2)
    assert batched == single
    alone = [np.asarray(aecodec.decode(d)) for d in single]
    together = [np.asarray(im) for im in aecodec.decode_many(single, batch_size=4)]
    assert all(np.array_equal(a, b) for a, b in zip(alone, together))
    with pytest.raises(aecodec.AecError, match="batch size"):
        aecodec.encode_many(images[:1], batch_size=0)


def test_rate_grows_with_quality(sample_path):
    sizes = [len(aecodec.encode(sample_path, quality=q)) for q in (1, 3, 5.5, 8, 10)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1] / 4


@pytest.mark.parametrize("mode", ["L", "RGBA", "LA", "P", "1", "CMYK", "I;16"])
def test_modes(mode):
    src = noise_image(40, 30, "RGB")
    if mode == "I;16":
        src = Image.fromarray(np.asarray(src.convert("L")).astype(np.uint16) * 257)
        assert src.mode == "I;16"
    elif mode in ("RGBA", "LA"):
        src = src.convert(mode)
        src.putalpha(Image.fromarray((np.arange(1200).reshape(30, 40) % 256).astype(np.uint8)))
    else:
        src = src.convert(mode)
    if mode == "I;16":
        with pytest.warns(aecodec.AecWarning):
            data = aecodec.encode(src, quality=6)
    else:
        data = aecodec.encode(src, quality=6)
    out = aecodec.decode(data)
    expected = {"P": "RGB", "1": "L", "CMYK": "RGB", "I;16": "L"}.get(mode, mode)
    assert out.mode == expected and out.size == src.size
    if mode in ("RGBA", "LA"):  # alpha is lossless
        assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(src.getchannel("A")))


@pytest.mark.skipif(not (KODAK / "kodim05.png").exists(), reason="Kodak not available")
@pytest.mark.parametrize("name", CODECS)
def test_shipped_weights_reach_recorded_quality(name):
    """The provenance file records per-quality Kodak means; kodim05 alone must land near its own record."""
    info = aecodec.get_codec(name)
    prov = json.loads(info.weights_path.with_suffix(".json").read_text())
    rec = {p["quality"]: p for p in prov["kodim05"]}
    q = info.default_quality
    im = Image.open(KODAK / "kodim05.png").convert("RGB")
    data = aecodec.encode(im, codec=name, quality=q)
    out = aecodec.decode(data)
    assert psnr(np.asarray(im), np.asarray(out)) == pytest.approx(rec[q]["psnr"], abs=0.01)
    assert 8 * len(data) / (im.width * im.height) == pytest.approx(rec[q]["bpp"], rel=0.001)
    assert math.isfinite(prov["kodak"][0]["psnr"])


def test_metadata_is_dropped_with_a_notice():
    im = noise_image(16, 16)
    im.info["icc_profile"] = b"fake-profile"
    with pytest.warns(aecodec.AecWarning, match="icc_profile"):
        aecodec.encode(im, quality=2)


def test_tiled_coding_round_trips_and_stays_close_to_untiled():
    im = noise_image(700, 300, seed=3)
    whole = aecodec.encode(im, quality=5, tile=0)
    tiled = aecodec.encode(im, quality=5, tile=256)
    assert aecodec.inspect(tiled).tiles == 6 and aecodec.inspect(whole).tiles == 1
    a = np.asarray(im)
    p_whole = psnr(a, np.asarray(aecodec.decode(whole)))
    p_tiled = psnr(a, np.asarray(aecodec.decode(tiled)))
    assert abs(p_whole - p_tiled) < 0.3
    with pytest.raises(aecodec.AecError):
        aecodec.encode(im, tile=100)


@pytest.mark.parametrize("size", [(1, 300), (300, 1), (3000, 2)])
def test_thin_and_very_wide_images(size):
    im = noise_image(*size)
    assert aecodec.decode(aecodec.encode(im, quality=4)).size == size


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_and_cpu_parse_identically(sample_path):
    """Parsing is integer on every device: files cross devices (the content check proves every symbol);
    pixels come from float synthesis and may differ slightly."""
    on_cpu = aecodec.encode(sample_path, quality=4, device="cpu")
    on_gpu = aecodec.encode(sample_path, quality=4, device="cuda")
    for data in (on_cpu, on_gpu):
        a = np.asarray(aecodec.decode(data, device="cpu"), dtype=int)
        b = np.asarray(aecodec.decode(data, device="cuda"), dtype=int)
        assert np.abs(a - b).max() <= 2
    assert abs(len(on_cpu) - len(on_gpu)) <= 0.01 * len(on_cpu)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_batched_files_decode_on_cpu(sample_path):
    """The GPU path: files encoded in a batch on CUDA parse on the CPU (every symbol check passes)."""
    images = [Image.open(sample_path).convert("RGB"), noise_image(384, 256, seed=5)]
    files = aecodec.encode_many(images, quality=5, device="cuda", batch_size=8)
    for im, data in zip(images, files):
        assert psnr(np.asarray(im), np.asarray(aecodec.decode(data, device="cpu"))) > 20
