"""The command line under generated argument lists and inputs (hypothesis): whatever it is given, it answers
with a documented exit code, one line on stderr when it refuses, no traceback, and no partial output.

CI runs a bounded, derandomized number of examples; a longer search is the same test with more:
``AECODEC_PROPERTY_EXAMPLES=2000 python -m pytest -p no:xdist tests/test_cli_properties.py``.
"""
import io
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import aecodec
from aecodec.cli.main import main
from aecodec.errors import EXIT_CODES
from aecodec.format.container import MAGIC
from tests.conftest import noise_image

EXAMPLES = int(os.environ.get("AECODEC_PROPERTY_EXAMPLES", "30"))


def _inputs() -> dict[str, bytes | None]:
    """Input files by name (None: a folder): valid, truncated, empty, random and non-image ones."""
    png = io.BytesIO()
    noise_image(40, 24).save(png, "PNG")
    gray = io.BytesIO()
    noise_image(17, 9, "L").save(gray, "PNG")
    aec = aecodec.encode(noise_image(40, 24), quality=1)
    rng = np.random.default_rng(0)
    return {"good.png": png.getvalue(), "gray.png": gray.getvalue(), "truncated.png": png.getvalue()[:200],
            "empty.png": b"", "random.png": rng.bytes(300), "notes.txt": b"hello\n", "good.aec": aec,
            "truncated.aec": aec[:-7], "random.aec": MAGIC + rng.bytes(60), "photos": None}


INPUTS = _inputs()
SOURCES = [*INPUTS, "missing.png", "-"]
OUTPUTS = ["new.aec", "new.png", "new.jpg", "new.npy", "existing.aec", "missing/x.aec", "outdir", "-"]
OPTIONS = st.sampled_from([
    ["-q", "1"], ["-q", "5.5"], ["-q", "0"], ["-q", "99"], ["-q", "abc"], ["--jobs", "0"], ["--jobs", "1"],
    ["--force"], ["--codec", "avif-pf"], ["--codec", "nope"], ["--bpp", "0.5"], ["--bpp", "-1"], ["--psnr", "25"],
    ["--size", "lots"], ["--output-quality", "0"], ["--output-quality", "90"], ["--max-pixels", "100"],
    ["--bogus"], ["--json"], ["--device", "tpu"], ["--weights", "missing.safetensors"]])


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("inputs")
    for name, data in INPUTS.items():
        if data is None:
            (folder / name / "sub").mkdir(parents=True)
            (folder / name / "sub" / "a.png").write_bytes(INPUTS["good.png"])
        else:
            (folder / name).write_bytes(data)
    return folder


def _listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(command=st.sampled_from(["encode", "decode", "info"]), source=st.sampled_from(SOURCES),
       stdin=st.sampled_from([n for n, d in INPUTS.items() if d is not None]),
       output=st.none() | st.sampled_from(OUTPUTS), options=st.lists(OPTIONS, max_size=3))
def test_any_command_line_answers_with_a_code_and_one_line(sources, command, source, stdin, output, options):
    work = Path(tempfile.mkdtemp(prefix="out-", dir=sources.parent))
    try:
        (work / "existing.aec").write_bytes(b"keep me")
        (work / "outdir").mkdir()
        src = source if source == "-" else str(sources / source)
        args = [command, src] + (["-o", str(work / output) if output != "-" else "-"] if output else [])
        args += [a for option in options for a in option]
        before = _listing(work)
        r = CliRunner().invoke(main, args, input=INPUTS[stdin] if source == "-" else None)
        assert r.exception is None or isinstance(r.exception, SystemExit), (args, repr(r.exception))
        assert r.exit_code in EXIT_CODES, (args, r.exit_code, r.stderr)
        assert "Traceback" not in r.stderr, args
        after = _listing(work)
        assert not [n for n in after if n.endswith(".part")], (args, after.keys())  # no temporary file left
        if r.exit_code != 0:
            lines = r.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("aecodec: error: "), (args, r.stderr)
            if source != "photos":  # a folder run may finish some files before one fails
                assert after == before, (args, set(after) ^ set(before))  # nothing written, nothing replaced
        elif command == "encode" and output and output.endswith(".aec") and "existing" not in output:
            assert after[output][:len(MAGIC)] == MAGIC
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_the_generated_inputs_are_what_they_say(sources):
    """The property above is only as good as its inputs: the good ones code, the bad ones do not."""
    assert Image.open(sources / "good.png").size == (40, 24)
    assert aecodec.inspect((sources / "good.aec").read_bytes()).width == 40
    for name in ("truncated.png", "random.png", "notes.txt"):
        with pytest.raises(aecodec.AecError):
            aecodec.encode(sources / name)
    with pytest.raises(aecodec.AecError):
        aecodec.decode((sources / "truncated.aec").read_bytes())
