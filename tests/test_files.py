"""Files in and out: inputs refused from their header, and encode options that hold at most one way to pick the
quality."""

import pytest

import aecodec
from aecodec.files import EncodeOptions, check_image, check_output, is_aec


def test_inputs_and_outputs_are_refused_before_any_work(tmp_path, sample_path):
    aec = tmp_path / "x.aec"
    aec.write_bytes(aecodec.encode(sample_path, codec="hyperprior", quality=1))
    assert is_aec(aec) and not is_aec(sample_path) and not is_aec(tmp_path / "missing")
    with pytest.raises(aecodec.InputImageError, match="already an .aec file"):
        check_image(aec)
    with pytest.raises(aecodec.InputImageError, match="megapixels"):
        check_image(sample_path, max_pixels=1000)
    check_image(sample_path)
    with pytest.raises(aecodec.OutputError, match="exists"):
        check_output(aec, force=False)
    check_output(aec, force=True)
    with pytest.raises(aecodec.OutputError, match="is a folder"):
        check_output(tmp_path, force=True)


def test_encode_options_take_a_quality_or_one_target():
    assert EncodeOptions(bpp=0.5).targets and not EncodeOptions(quality=3).targets
    with pytest.raises(aecodec.AecError, match="at most one"):
        EncodeOptions(quality=3, max_bytes=1000)
