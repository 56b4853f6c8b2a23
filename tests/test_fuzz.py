"""The fuzz harnesses (tests/fuzz.py): every kept finding is handled, and a short fixed-seed run of each target
under libFuzzer finds nothing."""
import subprocess
import sys
from pathlib import Path

import pytest

from tests import fuzz

ROOT = Path(__file__).resolve().parent.parent
RUNS = {"container": 20000, "decode": 400, "payload": 60, "array": 1500, "pillow": 400}


@pytest.mark.parametrize("path", sorted(fuzz.REGRESSIONS.glob("*.aec")), ids=lambda p: p.stem)
def test_kept_findings_are_handled(path):
    target = path.name.split("-")[0]
    fuzz._target(target)(path.read_bytes())  # raises on a finding


def test_kept_findings_fail_with_aec_errors_under_every_check():
    import aecodec

    for path in fuzz.REGRESSIONS.glob("*.aec"):
        with pytest.raises(aecodec.AecError):
            (aecodec.decode_array if path.name.startswith("array") else aecodec.decode)(path.read_bytes())


def test_repaired_keeps_a_real_file_and_fixes_a_forged_crc():
    seed = fuzz.seeds()[2]  # RGBA: header, alpha and symbol digests
    assert fuzz.repaired(seed) == seed
    forged = bytearray(seed)
    forged[23] ^= 1  # the height: the CRC and the header digest no longer match
    fixed = fuzz.repaired(bytes(forged))
    assert fixed != seed and fixed[:-4] != bytes(forged)[:-4]
    from aecodec.format import container, payload

    c = container.unpack(fixed)  # the CRC passes
    assert payload.open_checked(c, len(c.streams) - 1)  # and so does the header digest


@pytest.fixture(scope="module")
def seed_corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seeds")
    fuzz.write_seeds(folder)
    return folder


@pytest.mark.parametrize("target", fuzz.TARGETS)
def test_short_fixed_seed_run_finds_nothing(target, seed_corpus, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for f in seed_corpus.iterdir():
        (corpus / f.name).write_bytes(f.read_bytes())
    run = subprocess.run([sys.executable, "-m", "tests.fuzz", target, str(corpus), f"-runs={RUNS[target]}",
                          "-seed=3", f"-artifact_prefix={tmp_path}/"], capture_output=True, text=True, cwd=ROOT,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "DONE" in run.stderr and not list(tmp_path.glob("crash-*"))
