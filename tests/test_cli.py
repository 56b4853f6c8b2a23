import json

import pytest
from click.testing import CliRunner

from cli.main import main


@pytest.fixture
def runner():
    return CliRunner()


def test_encode_decode_info(runner, tmp_path, sample_path):
    src = tmp_path / "photo.png"
    src.write_bytes(sample_path.read_bytes())
    r = runner.invoke(main, ["encode", str(src)])
    assert r.exit_code == 0, r.output
    aec = tmp_path / "photo.aec"
    assert aec.exists()
    r = runner.invoke(main, ["decode", str(aec), "-o", str(tmp_path / "out.png")])
    assert r.exit_code == 0 and (tmp_path / "out.png").exists()
    r = runner.invoke(main, ["info", str(aec)])
    assert r.exit_code == 0 and "hyperprior" in r.output and "bpp" in r.output
    r = runner.invoke(main, ["info", "--json", str(aec)])
    assert json.loads(r.output)["width"] == 384


def test_no_overwrite_without_force(runner, tmp_path, sample_path):
    out = tmp_path / "x.aec"
    out.write_bytes(b"keep")
    r = runner.invoke(main, ["encode", str(sample_path), "-o", str(out), "-q", "2"])
    assert r.exit_code == 7 and out.read_bytes() == b"keep"
    r = runner.invoke(main, ["encode", str(sample_path), "-o", str(out), "-q", "2", "--force"])
    assert r.exit_code == 0 and out.read_bytes()[:4] == b"\x89AEC"


@pytest.mark.parametrize("content,code", [(b"garbage!", 4), (None, 4)])
def test_bad_bitstreams(runner, tmp_path, sample_path, content, code):
    f = tmp_path / "bad.aec"
    if content is None:  # truncated real file
        runner.invoke(main, ["encode", str(sample_path), "-o", str(f), "-q", "1"])
        content = f.read_bytes()[:-10]
    f.write_bytes(content)
    r = runner.invoke(main, ["decode", str(f), "-o", str(tmp_path / "o.png")])
    assert r.exit_code == code
    assert "error" in r.output and "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "o.png").exists()
    assert not list(tmp_path.glob(".*part"))


def test_error_exit_codes(runner, tmp_path, sample_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    assert runner.invoke(main, ["encode", str(bad)]).exit_code == 3
    assert runner.invoke(main, ["encode", str(sample_path), "--codec", "nope", "-o", str(tmp_path / "a.aec")]
                         ).exit_code == 6
    assert runner.invoke(main, ["encode", str(sample_path), "-o", str(tmp_path / "no" / "a.aec")]).exit_code == 7
    assert runner.invoke(main, ["decode", str(tmp_path / "missing.aec")]).exit_code == 3
    assert runner.invoke(main, ["encode"]).exit_code == 2


def test_list_and_version(runner):
    r = runner.invoke(main, ["list", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)[0]["name"] == "hyperprior"
    assert runner.invoke(main, ["--version"]).exit_code == 0
