import pytest

from aecodec.format.container import Container, pack, unpack
from aecodec.errors import FormatError


def make() -> bytes:
    return pack(Container(1, bytes(range(8)), 80, 17, 33, "RGBA", 0, [b"abc", b"", b"\x00" * 100]))


def test_round_trip():
    c = unpack(make())
    assert (c.codec_id, c.weights_hash, c.quality, c.width, c.height, c.mode) == (1, bytes(range(8)), 5.0, 17, 33,
                                                                                   "RGBA")
    assert c.streams == [b"abc", b"", b"\x00" * 100]


def test_every_truncation_is_a_format_error():
    data = make()
    for n in range(len(data)):
        with pytest.raises(FormatError):
            unpack(data[:n])


def test_every_single_bit_flip_is_caught():
    data = make()
    for i in range(len(data)):
        for bit in (0, 3, 7):
            bad = bytearray(data)
            bad[i] ^= 1 << bit
            with pytest.raises(FormatError):
                unpack(bytes(bad))


def test_wrong_magic_and_version():
    data = bytearray(make())
    with pytest.raises(FormatError, match="magic"):
        unpack(b"PNG" + bytes(data[3:]))
    data[4] = 9
    with pytest.raises(FormatError, match="version"):
        unpack(bytes(data))


def test_size_bounds():
    with pytest.raises(FormatError):
        pack(Container(1, bytes(8), 16, 0, 10, "RGB"))


def test_unknown_flags_are_refused():
    c = unpack(make())
    c.flags = 1
    with pytest.raises(FormatError, match="flags"):
        unpack(pack(c))
