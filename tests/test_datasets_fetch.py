"""Datasets fetched on first use, from loopback servers and folders the tests make: every file checked by SHA-256,
cached, fetched once, resumed after an interruption, refused when wrong, and nothing unverified left behind."""
import functools
import hashlib
import http.server
import io
import threading

import pytest

import aecodec
from aecodec import datasets
from aecodec.datasets import Source, fetch, resolve_images
from tests.conftest import noise_image


class Server:
    """A loopback HTTP server over ``root`` that counts the requests for each file."""

    def __init__(self, root):
        self.hits: dict[str, int] = {}
        hits = self.hits

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                hits[self.path.lstrip("/")] = hits.get(self.path.lstrip("/"), 0) + 1
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     functools.partial(Handler, directory=str(root)))
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(tmp_path, monkeypatch):
    """Three PNGs on a loopback server, declared as the dataset 'tiny' with their SHA-256; a fresh cache."""
    root = tmp_path / "served"
    root.mkdir()
    sums = {}
    for i in range(3):
        noise_image(24, 16, seed=i).save(root / f"im{i}.png")
        sums[f"im{i}.png"] = hashlib.sha256((root / f"im{i}.png").read_bytes()).hexdigest()
    server = Server(root)
    source = Source("tiny", {n: server.url + n for n in sums}, sums, licence="made by the test")
    monkeypatch.setitem(datasets.SOURCES, "tiny", source)
    monkeypatch.setenv("AECODEC_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("AECODEC_DATA_MIRROR", raising=False)
    yield root, server
    server.close()


def test_a_dataset_is_fetched_checked_cached_and_fetched_once(served, tmp_path):
    root, server = served
    images = resolve_images("tiny")
    assert [p.name for p in images] == ["im0.png", "im1.png", "im2.png"]
    assert all(p.read_bytes() == (root / p.name).read_bytes() for p in images)
    assert server.hits == {"im0.png": 1, "im1.png": 1, "im2.png": 1}
    resolve_images("tiny")
    assert server.hits == {"im0.png": 1, "im1.png": 1, "im2.png": 1}  # the cache served the second run


def test_an_interrupted_fetch_resumes_with_the_files_it_finished(served, tmp_path):
    root, server = served
    (tmp_path / "cache" / "tiny").mkdir(parents=True)
    (tmp_path / "cache" / "tiny" / "im0.png").write_bytes((root / "im0.png").read_bytes())  # finished
    (tmp_path / "cache" / "tiny" / "im1.png").write_bytes(b"half a file")  # cut off: fails its check
    fetch("tiny")
    assert server.hits == {"im1.png": 1, "im2.png": 1}
    assert (tmp_path / "cache" / "tiny" / "im1.png").read_bytes() == (root / "im1.png").read_bytes()


def test_a_wrong_checksum_is_refused_and_nothing_unverified_stays(served, tmp_path):
    root, _ = served
    (root / "im1.png").write_bytes(b"not the file it should be")
    with pytest.raises(aecodec.AecError, match="SHA-256") as e:
        fetch("tiny")
    assert "\n" not in str(e.value)
    cached = sorted(p.name for p in (tmp_path / "cache" / "tiny").iterdir())
    assert cached == ["im0.png"]  # the file before it, verified; no trace of the bad one


def test_a_mirror_url_or_folder_replaces_the_sources(served, tmp_path, monkeypatch):
    root, server = served
    mirror = Server(root)
    try:
        monkeypatch.setenv("AECODEC_DATA_MIRROR", mirror.url)
        fetch("tiny")
        assert server.hits == {} and sum(mirror.hits.values()) == 3
    finally:
        mirror.close()
    monkeypatch.setenv("AECODEC_DATA_DIR", str(tmp_path / "cache2"))
    monkeypatch.setenv("AECODEC_DATA_MIRROR", str(root))  # a local folder
    assert (fetch("tiny") / "im2.png").read_bytes() == (root / "im2.png").read_bytes() and server.hits == {}


def test_an_unreachable_mirror_is_one_line(served, monkeypatch):
    monkeypatch.setenv("AECODEC_DATA_MIRROR", "http://127.0.0.1:9/")  # the discard port: nothing listens
    with pytest.raises(aecodec.AecError, match="cannot fetch") as e:
        fetch("tiny")
    assert "\n" not in str(e.value)


def test_the_command_line_lists_fetches_and_prints_the_folder(served, tmp_path):
    from click.testing import CliRunner

    from aecodec.cli.main import main

    runner = CliRunner()
    r = runner.invoke(main, ["datasets", "fetch", "tiny"])
    assert r.exit_code == 0 and r.stdout.strip() == str(tmp_path / "cache" / "tiny")
    assert r.stderr.count("fetching tiny/") == 3
    r = runner.invoke(main, ["datasets", "list"])
    assert "tiny: fetched on first use, 3 files (3 in the cache)" in r.output
    r = runner.invoke(main, ["datasets", "path", "tiny"])
    assert r.stdout.strip() == str(tmp_path / "cache" / "tiny") and not r.stderr  # nothing left to fetch
    r = runner.invoke(main, ["datasets", "fetch", "nope"])
    assert r.exit_code == 1 and "no dataset 'nope'" in r.stderr and len(r.stderr.splitlines()) == 1


def test_an_archive_is_checked_whole_then_its_images_unpacked_once(tmp_path, monkeypatch):
    import zipfile

    root = tmp_path / "served"
    root.mkdir()
    with zipfile.ZipFile(root / "set.zip", "w") as z:
        for i in range(3):
            buf = io.BytesIO()
            noise_image(16, 16, seed=i).save(buf, "PNG")
            z.writestr(f"set/img{i}.png", buf.getvalue())
        z.writestr("set/README.txt", "not an image")
    digest = hashlib.sha256((root / "set.zip").read_bytes()).hexdigest()
    server = Server(root)
    try:
        monkeypatch.setitem(datasets.SOURCES, "zipped", Source("zipped", {"set.zip": server.url + "set.zip"},
                                                                 {"set.zip": digest}, "test", archives=True))
        monkeypatch.setenv("AECODEC_DATA_DIR", str(tmp_path / "cache"))
        monkeypatch.delenv("AECODEC_DATA_MIRROR", raising=False)
        assert [p.name for p in resolve_images("zipped")] == ["img0.png", "img1.png", "img2.png"]
        (tmp_path / "cache" / "zipped" / "set.zip").write_bytes(b"")  # not read again: the marker stands
        assert len(resolve_images("zipped")) == 3 and server.hits == {"set.zip": 1}
        monkeypatch.setitem(datasets.SOURCES, "bad", Source("bad", {"set.zip": server.url + "set.zip"},
                                                              {"set.zip": "0" * 64}, "test", archives=True))
        with pytest.raises(aecodec.AecError, match="SHA-256"):
            fetch("bad")
        assert not (tmp_path / "cache" / "bad" / "extracted").exists()
    finally:
        server.close()
