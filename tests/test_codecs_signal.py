"""The array codec: the error bound holds for every element, shapes and dtypes survive, damage is reported."""
import numpy as np
import pytest

import aecodec
from aecodec.training.synthetic import signals


@pytest.mark.parametrize("shape,scale,bound", [((1000,), 1.0, 1e-2), ((7, 300), 50.0, 0.5), ((5000,), 1e-3, 1e-6),
                                               ((1,), 3.0, 0.1), ((64,), 0.0, 1e-3), ((3, 3), 1e4, 1e-3)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_error_bound_is_never_exceeded(shape, scale, bound, dtype):
    rng = np.random.default_rng(0)
    x = (np.cumsum(rng.standard_normal(shape), axis=-1) * scale + 17.0).astype(dtype)
    y = aecodec.decode_array(aecodec.encode_array(x, bound))
    assert y.shape == x.shape and y.dtype == x.dtype
    # the bound is guaranteed on the float64 values the codec reconstructs; float32 output adds its own rounding
    slack = 0 if dtype == np.float64 else np.spacing(np.abs(x).max().astype(np.float32))
    assert np.abs(x.astype(np.float64) - y.astype(np.float64)).max() <= bound + slack


def test_signals_beat_a_uniform_quantizer_with_lzma():
    import lzma

    x = signals(20, length=2048, seed=9)[0].astype(np.float64)
    bound = 0.01
    data = aecodec.encode_array(x, bound)
    q = np.round(x / (2 * bound)).astype(np.int32)
    assert len(data) < len(lzma.compress(q.tobytes(), preset=9))
    assert aecodec.inspect(data).codec == "signal"


def test_kinds_and_damage_are_refused(tmp_path, sample_path):
    x = np.linspace(0, 1, 500)
    data = aecodec.encode_array(x, 1e-3)
    with pytest.raises(aecodec.FormatError, match="array"):
        aecodec.decode(data)
    with pytest.raises(aecodec.FormatError, match="image"):
        aecodec.decode_array(aecodec.encode(sample_path, quality=1))
    with pytest.raises(aecodec.UnknownCodecError):
        aecodec.encode(sample_path, codec="signal")
    with pytest.raises(aecodec.AecError, match="bound"):
        aecodec.encode_array(x, 0.0)
    with pytest.raises(aecodec.InputImageError):
        aecodec.encode_array(np.array([1.0, np.nan]), 0.1)
    for i in range(40, len(data) - 4, 37):  # every damage ends in an AecError
        bad = bytearray(data)
        bad[i] ^= 0x10
        with pytest.raises(aecodec.AecError):
            aecodec.decode_array(bytes(bad))
