"""The benchmark as one library call: it refuses a bad configuration before coding anything, and otherwise writes
every output it names."""
import pytest

import aecodec
from aecodec.eval.baselines import BASELINES
from aecodec.eval.benchmark import BenchConfig, run
from tests.conftest import noise_image


@pytest.fixture
def folder(tmp_path):
    for i in range(2):
        noise_image(64, 48, seed=i).save(tmp_path / f"im{i}.png")
    return tmp_path


def test_run_writes_what_it_names_and_hears_of_skipped_codecs(folder, tmp_path):
    heard = []
    spec = "jpeg,webp" + (",jpegxl" if not BASELINES["jpegxl"].available() else "")
    result = run(BenchConfig(tmp_path / "out", dataset=str(folder), codecs=spec, page_images=0), heard.append)
    assert result.codecs == ["jpeg", "webp"] and [p.name for p in result.images] == ["im0.png", "im1.png"]
    assert result.summary.bd_rate["psnr"]["jpeg"] == pytest.approx(0, abs=1e-9)
    assert all(p.is_file() for p in result.written) and "webp" in result.table()
    assert heard == ([] if BASELINES["jpegxl"].available() else ["jpegxl skipped (pip install imagecodecs)"])


def test_a_bad_configuration_is_refused_before_any_output(folder, tmp_path):
    with pytest.raises(aecodec.UnknownCodecError, match="anchor"):
        run(BenchConfig(tmp_path / "out", dataset=str(folder), codecs="jpeg", anchor="webp"))
    with pytest.raises(aecodec.AecError, match="split"):
        run(BenchConfig(tmp_path / "out", dataset=str(folder), split="test"))
    assert not (tmp_path / "out").exists()
