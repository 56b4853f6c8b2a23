import zlib

import pytest

from aecodec.errors import FormatError
from aecodec.format.container import Container, pack, unpack


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
    from aecodec.format.container import EXACT, SEAMLESS

    c = unpack(make())
    for flags in (4, 0x80, SEAMLESS | EXACT):  # unknown bits, and the two known ones together
        c.flags = flags
        with pytest.raises(FormatError, match="flags"):
            unpack(pack(c))
    c.flags = EXACT
    assert unpack(pack(c)).flags == EXACT


def test_a_file_without_flags_stays_version_1_and_seamless_tiles_make_version_2():
    import struct

    from aecodec.format.container import SEAMLESS

    plain = make()
    assert plain[4] == 1 and unpack(plain).flags == 0
    c = unpack(plain)
    c.flags = SEAMLESS
    data = pack(c)
    assert data[4] == 2 and unpack(data).flags == SEAMLESS
    v1 = bytearray(data)
    v1[4] = 1  # the flag did not exist in version 1: refused, not mis-decoded
    v1[-4:] = struct.pack(">I", zlib.crc32(bytes(v1[:-4])))
    with pytest.raises(FormatError, match="flags"):
        unpack(bytes(v1))
