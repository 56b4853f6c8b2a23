import random

import numpy as np
import pytest
from PIL import Image

import aecodec
from aecodec.errors import FormatError, InputImageError, ModelMismatchError, UnknownCodecError
from aecodec.format import container as bitstream
from tests.conftest import noise_image


@pytest.fixture(scope="module")
def data() -> bytes:
    return aecodec.encode(noise_image(70, 50), quality=4)


def test_truncations_raise_aec_error(data):
    for n in sorted(set(range(0, 64)) | set(range(64, len(data), 97)) | {len(data) - 1}):
        with pytest.raises(aecodec.AecError):
            aecodec.decode(data[:n])


def test_bit_flips_raise_aec_error(data):
    rng = random.Random(0)
    for _ in range(60):
        bad = bytearray(data)
        i = rng.randrange(len(bad))
        bad[i] ^= 1 << rng.randrange(8)
        with pytest.raises(aecodec.AecError):
            aecodec.decode(bytes(bad))


def test_wrong_weights_hash_is_a_model_mismatch(data):
    c = bitstream.unpack(data)
    c.weights_hash = bytes(8)
    with pytest.raises(ModelMismatchError, match="other weights"):
        aecodec.decode(bitstream.pack(c))
    fi = aecodec.inspect(bitstream.pack(c))  # info still reads the header
    assert fi.codec == aecodec.get_codec(None).name and not fi.decodable


def test_unknown_codec_id_and_name(data):
    c = bitstream.unpack(data)
    c.codec_id = 250
    with pytest.raises(ModelMismatchError):
        aecodec.decode(bitstream.pack(c))
    with pytest.raises(UnknownCodecError):
        aecodec.encode(noise_image(8, 8), codec="nope")
    with pytest.raises(UnknownCodecError):
        aecodec.encode(noise_image(8, 8), quality=99)


def test_stream_count_is_checked(data):
    c = bitstream.unpack(data)
    c.streams = c.streams[:1]
    with pytest.raises(FormatError):
        aecodec.decode(bitstream.pack(c))


def test_unreadable_input(tmp_path):
    bad = tmp_path / "x.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(InputImageError):
        aecodec.encode(bad)
    with pytest.raises(InputImageError):
        aecodec.encode(tmp_path / "missing.png")


def test_inspect(data):
    fi = aecodec.inspect(data)
    default = aecodec.get_codec(None).name
    assert (fi.codec, fi.width, fi.height, fi.quality, fi.bytes) == (default, 70, 50, 4.0, len(data))
    assert fi.bpp == pytest.approx(8 * len(data) / 3500) and fi.decodable
    assert fi.compression_ratio == pytest.approx(3 * 3500 / len(data))


def test_list_codecs_default_first():
    codecs = aecodec.list_codecs()
    assert codecs[0].name == aecodec.get_codec(None).name and codecs[0].default and len(codecs[0].qualities) >= 4
    assert len({c.codec_id for c in codecs}) == len(codecs)
    single = [c for c in codecs if c.name in ("signal", "compressai-hyperprior", "compressai-autoregressive",
                                                "compressai-factorized")]
    assert len(single) == 4 and all(c.qualities == () and c.default_quality is None for c in single)


def test_a_single_rate_codec_takes_no_quality():
    from aecodec.variants import quality16

    info = aecodec.get_codec("compressai-hyperprior")
    assert quality16(info, None) == quality16(info, 1) == 16  # what its files record
    with pytest.raises(UnknownCodecError, match="one rate"):
        quality16(info, 3)


@pytest.mark.parametrize("name", ["hyperprior-ctx-pf3", "avif-pf"])
def test_large_untiled_images_are_synthesized_in_windows_without_seams(name):
    """A 1300x200 image is one tile but wider than a synthesis window: the windowed decode (bounded memory)
    gives the pixels of one whole synthesis (and post-filter), up to float rounding order."""
    import numpy as np

    from aecodec.api import WINDOW
    from aecodec.contract import Coded
    from aecodec.format import container
    from aecodec.image import split_image, to_uint8

    im = noise_image(WINDOW + 276, 200, seed=5)
    data = aecodec.encode(im, quality=4, codec=name)
    assert aecodec.inspect(data).tiles == 1
    windowed = np.asarray(aecodec.decode(data), dtype=int)
    codec = aecodec.load(name)
    c = container.unpack(data)
    x, _, _ = split_image(im)
    s = codec.stride
    ph, pw = (-x.shape[-2]) % s + x.shape[-2], (-x.shape[-1]) % s + x.shape[-1]
    streams = aecodec.get_codec(name).streams
    whole = codec.decompress_batch([Coded(c.streams[:streams], tuple(_digests(data, streams)))], ph, pw, c.quality16)
    whole = to_uint8(whole[:, :, :200, :WINDOW + 276]).astype(int)
    assert np.abs(windowed - whole).max() <= 1 and (windowed != whole).mean() < 0.001


def _digests(data: bytes, streams: int = 2) -> list[int]:
    from aecodec.format import container, payload

    c = container.unpack(data)
    return list(payload.open_checked(c, streams))


def test_an_animation_is_coded_from_its_first_frame_with_a_warning(tmp_path):
    import numpy as np
    from PIL import Image

    from aecodec.errors import AecWarning

    frames = [Image.new("RGB", (64, 64), (40 * i, 90, 200)) for i in range(3)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    with pytest.warns(AecWarning, match="3 frames: only the first is coded"):
        data = aecodec.encode(tmp_path / "a.gif", quality=8)
    first = np.asarray(Image.open(tmp_path / "a.gif").convert("RGB")).astype(int)
    assert np.abs(np.asarray(aecodec.decode(data)).astype(int) - first).mean() < 3


def test_16_bit_colour_is_reduced_to_8_bits_with_a_warning(tmp_path):
    import struct
    import zlib

    import numpy as np

    from aecodec.errors import AecWarning

    h, w = 16, 24
    a = np.random.default_rng(0).integers(0, 65536, (h, w, 3)).astype(">u2")
    raw = b"".join(b"\x00" + a[i].tobytes() for i in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
    png = b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    (tmp_path / "c16.png").write_bytes(png)
    with pytest.warns(AecWarning, match="16-bit RGB image coded with 8 bits"):
        data = aecodec.encode(tmp_path / "c16.png", quality=10)
    assert aecodec.decode(data).size == (w, h)


def _learned_only(monkeypatch, im, **kw) -> bytes:
    """The file the codec itself makes, the exact alternative switched off."""
    from aecodec import api

    with monkeypatch.context() as m:
        m.setattr(api, "_exact_streams", lambda p, budget: None)
        return aecodec.encode(im, **kw)


def test_flat_and_tiny_images_are_stored_exactly_when_that_is_no_larger(monkeypatch):
    learned = "hyperprior-ctx-pf3"  # whose own file of a flat image misses the border by more than 3
    for im in (Image.new("RGB", (64, 64), (40, 120, 200)), Image.new("RGB", (1, 1), (200, 30, 40)),
               Image.new("L", (50, 70), 90)):
        data = aecodec.encode(im, codec=learned)  # the default quality
        assert bitstream.unpack(data).flags == bitstream.EXACT and aecodec.inspect(data).exact
        out = aecodec.decode(data)
        assert out.mode == im.mode and np.array_equal(np.asarray(out), np.asarray(im))
        own = _learned_only(monkeypatch, im, codec=learned)
        assert len(data) <= len(own)
        assert np.abs(np.asarray(aecodec.decode(own), int) - np.asarray(im, int)).max() > 3  # the border misses
    flat = Image.new("RGB", (64, 64), (40, 120, 200))
    at_1 = aecodec.encode(flat, quality=1, codec=learned)
    assert bitstream.unpack(at_1).flags == 0  # at quality 1 the codec's file is smaller
    assert len(at_1) < len(aecodec.encode(flat, codec=learned))


def test_a_photo_is_never_stored_exactly(sample_path):
    data = aecodec.encode(sample_path, quality=10)
    assert bitstream.unpack(data).flags == 0 and not aecodec.inspect(data).exact


def test_exact_files_keep_alpha_and_tiles_and_load_no_model(monkeypatch):
    from aecodec import variants

    im = Image.new("LA", (300, 70), (90, 200))
    data = aecodec.encode(im, tile=256)  # two tiles
    c = bitstream.unpack(data)
    assert c.flags == bitstream.EXACT and len(c.streams) == 2 + 1 + 1  # a stream per tile, alpha, the check
    monkeypatch.setattr(variants, "load", lambda *a, **k: pytest.fail("an exact file loaded a model"))
    out = aecodec.decode(data)
    assert out.mode == "LA" and np.array_equal(np.asarray(out), np.asarray(im))


def test_a_forged_exact_stream_is_a_format_error():
    import io
    import struct
    import zlib

    from aecodec.format import payload

    data = aecodec.encode(Image.new("RGB", (64, 64), (40, 120, 200)))
    c = bitstream.unpack(data)
    for forged in (Image.new("RGB", (64, 65)), Image.new("RGBA", (64, 64)), Image.new("RGB", (64, 64))):
        buf = io.BytesIO()
        forged.save(buf, "PNG" if forged.height == 64 and forged.mode == "RGB" else "WEBP", lossless=True)
        c.streams = [buf.getvalue(), struct.pack(">2I", payload.header_digest(c), zlib.crc32(buf.getvalue()))]
        with pytest.raises(FormatError, match="exact pixel stream"):
            aecodec.decode(bitstream.pack(c))
    c.streams = [b"RIFF" + bytes(30), struct.pack(">2I", payload.header_digest(c), zlib.crc32(b"RIFF" + bytes(30)))]
    with pytest.raises(FormatError):
        aecodec.decode(bitstream.pack(c))
    c.flags = bitstream.EXACT | bitstream.SEAMLESS
    with pytest.raises(FormatError, match="flags"):
        aecodec.decode(bitstream.pack(c))
