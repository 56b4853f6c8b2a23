"""Inputs by URL: any fsspec protocol reads like a file (a loopback HTTP server, fsspec's memory filesystem), and a
URL that cannot be read is one line with the unreadable-input code."""
import shutil

import fsspec
import pytest
from click.testing import CliRunner

import aecodec
from aecodec.cli.main import main
from aecodec.sources import is_url, read_input
from tests.test_datasets_fetch import Server


@pytest.fixture
def server(tmp_path, sample_path):
    root = tmp_path / "served"
    root.mkdir()
    (root / "photo.png").write_bytes(sample_path.read_bytes())
    s = Server(root)
    yield s
    s.close()


def test_urls_read_like_files(server, sample_path):
    assert is_url(server.url + "photo.png") and not is_url("photo.png") and not is_url(sample_path)
    assert read_input(server.url + "photo.png") == sample_path.read_bytes()
    fsspec.filesystem("memory").pipe("memory://in/photo.png", sample_path.read_bytes())
    assert read_input("memory://in/photo.png") == sample_path.read_bytes()
    with pytest.raises(aecodec.InputImageError, match="cannot read"):
        read_input(server.url + "missing.png")
    with pytest.raises(aecodec.InputImageError, match="cannot read"):
        read_input("http://127.0.0.1:9/photo.png")  # nothing listens there


def test_the_api_and_the_command_line_encode_from_a_url(server, sample_path, tmp_path, monkeypatch):
    data = aecodec.encode(server.url + "photo.png", codec="hyperprior", quality=2)
    assert data == aecodec.encode(sample_path, codec="hyperprior", quality=2)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    r = runner.invoke(main, ["encode", server.url + "photo.png", "--codec", "hyperprior", "-q", "2"])
    assert r.exit_code == 0 and (tmp_path / "photo.aec").read_bytes() == data  # named after the URL's file
    r = runner.invoke(main, ["decode", server.url + "photo.png", "-o", "x.png"])  # not an .aec file
    assert r.exit_code == 4 and len(r.stderr.splitlines()) == 1
    r = runner.invoke(main, ["encode", server.url + "missing.png", "-o", "m.aec"])
    assert r.exit_code == 3 and "cannot read" in r.stderr and not (tmp_path / "m.aec").exists()


def test_a_folder_run_writes_to_a_url_and_a_single_file_does_not(tmp_path, sample_path):
    (tmp_path / "in").mkdir()
    shutil.copy(sample_path, tmp_path / "in" / "a.png")
    runner = CliRunner()
    r = runner.invoke(main, ["encode", str(tmp_path / "in"), "-o", "memory://cliout", "--codec", "hyperprior",
                             "-q", "2"])
    assert r.exit_code == 0, r.output
    fs = fsspec.filesystem("memory")
    assert fs.cat("memory://cliout/a.aec") == aecodec.encode(sample_path, codec="hyperprior", quality=2)
    fs.rm("memory://cliout", recursive=True)
    r = runner.invoke(main, ["encode", str(sample_path), "-o", "memory://one.aec"])
    assert r.exit_code == 2 and "URL output" in r.stderr and not fs.exists("memory://one.aec")
