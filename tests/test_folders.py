"""Folder runs through the library: relative paths kept, reruns skip what exists, clashing outputs refuse the run
before anything is written, a bad file is reported while the others are written, batches give the same bytes."""
from pathlib import Path

import pytest

import aecodec
from aecodec.folders import FileResult
from tests.conftest import noise_image


@pytest.fixture
def folders(tmp_path) -> tuple[Path, Path]:
    """(a folder of two small images, one in a subfolder; an empty output folder)."""
    src, out = tmp_path / "in", tmp_path / "out"
    (src / "sub").mkdir(parents=True)
    out.mkdir()
    noise_image(64, 48, seed=1).save(src / "a.png")
    noise_image(64, 48, seed=2).save(src / "sub" / "b.png")
    return src, out


def _made(folder: Path, suffix: str) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob(f"*{suffix}"))


def test_encode_keeps_paths_and_a_rerun_skips_what_exists(folders):
    src, out = folders
    seen: list[FileResult] = []
    r = aecodec.encode_folder(src, out, quality=2, on_file=seen.append)
    assert _made(out, ".aec") == ["a.aec", "sub/b.aec"]
    assert r.done == [src / "a.png", src / "sub" / "b.png"] and not r.skipped and not r.failed and not r.clashes
    assert [s.src for s in seen] == r.done and all(s.error is None for s in seen)
    assert (out / "a.aec").read_bytes() == aecodec.encode(src / "a.png", quality=2)
    again = aecodec.encode_folder(src, out, quality=2)
    assert (len(again.done), len(again.skipped), len(again.failed)) == (0, 2, 0)
    forced = aecodec.encode_folder(src, out, quality=2, force=True)
    assert (len(forced.done), len(forced.skipped)) == (2, 0)


def test_decode_writes_pngs_beside_the_files_by_default(folders):
    src, out = folders
    aecodec.encode_folder(src, out, quality=2)
    r = aecodec.decode_folder(out)
    assert _made(out, ".png") == ["a.png", "sub/b.png"] and len(r.done) == 2
    assert r.dst == out and not aecodec.decode_folder(out).done  # the rerun skips both


def test_clashing_outputs_refuse_the_run_before_anything_is_written(folders):
    src, out = folders
    noise_image(64, 48, seed=3).save(src / "a.jpg")
    r = aecodec.encode_folder(src, out, quality=2)
    assert r.clashes == {out / "a.aec": [src / "a.jpg", src / "a.png"]}
    assert not r.done and not r.skipped and list(out.iterdir()) == []  # not even sub/ was made
    assert r.clash_message == ("a.jpg and a.png would both be written to a.aec (1 such clash(es)): "
                               "rename or move one of each")


def test_a_bad_file_is_reported_and_the_others_are_written(folders):
    src, out = folders
    (src / "bad.png").write_bytes(b"broken")
    r = aecodec.encode_folder(src, out, quality=2)
    assert (len(r.done), len(r.skipped), len(r.failed)) == (2, 0, 1)
    assert "not an image Pillow can read" in r.failed[src / "bad.png"] and not (out / "bad.aec").exists()
    assert not [f for f in out.rglob("*") if f.is_file() and f.suffix != ".aec"]  # no temporary file left


def test_batches_write_the_bytes_of_single_files_and_redo_a_failed_batch_file_by_file(folders):
    src, out = folders
    (src / "bad.png").write_bytes(b"broken")
    r = aecodec.encode_folder(src, out, quality=2, batch=4)
    assert (len(r.done), len(r.failed)) == (2, 1)
    assert (out / "sub" / "b.aec").read_bytes() == aecodec.encode(src / "sub" / "b.png", quality=2)
    batched, single = out.parent / "batched", out.parent / "single"
    batched.mkdir()
    single.mkdir()
    assert len(aecodec.decode_folder(out, batched, batch=2).done) == len(aecodec.decode_folder(out, single).done) == 2
    assert (batched / "sub" / "b.png").read_bytes() == (single / "sub" / "b.png").read_bytes()


def test_bad_settings_are_refused_before_any_file_and_a_missing_output_folder_is_made(folders):
    src, out = folders
    with pytest.raises(aecodec.UnknownCodecError):
        aecodec.encode_folder(src, out, quality=99)
    with pytest.raises(aecodec.AecError, match="at most one"):
        aecodec.encode_folder(src, out, quality=2, bpp=0.5)
    assert list(out.iterdir()) == []
    report = aecodec.encode_folder(src, out / "made" / "here", codec="hyperprior", quality=1)
    assert report.done and (out / "made" / "here").is_dir()  # a missing output folder is made, as mkdir -p does


def test_folders_given_by_url_code_alike_skip_existing_outputs_and_refuse_clashes(folders, tmp_path):
    import fsspec

    src, out = folders
    fs = fsspec.filesystem("memory")
    for p in sorted(q for q in src.rglob("*") if q.is_file()):
        fs.pipe(f"memory://urlrun/in/{p.relative_to(src).as_posix()}", p.read_bytes())
    local = aecodec.encode_folder(src, out, codec="hyperprior", quality=1)
    remote = aecodec.encode_folder("memory://urlrun/in", "memory://urlrun/out", codec="hyperprior", quality=1)
    assert len(remote.done) == len(local.done) and not remote.failed
    for p in out.rglob("*.aec"):
        assert fs.cat(f"memory://urlrun/out/{p.relative_to(out).as_posix()}") == p.read_bytes()
    again = aecodec.encode_folder("memory://urlrun/in", "memory://urlrun/out", codec="hyperprior", quality=1)
    assert not again.done and len(again.skipped) == len(local.done)
    decoded = aecodec.decode_folder("memory://urlrun/out", "memory://urlrun/png")
    assert len(decoded.done) == len(local.done) and not decoded.failed
    fs.pipe("memory://urlrun/in/clash.png", fs.cat(remote.done[0]))
    fs.pipe("memory://urlrun/in/clash.jpg", fs.cat(remote.done[0]))
    refused = aecodec.encode_folder("memory://urlrun/in", "memory://urlrun/out2", codec="hyperprior", quality=1)
    assert "clash.jpg and clash.png would both be written to clash.aec" in refused.clash_message
    assert not fs.exists("memory://urlrun/out2")
    with pytest.raises(aecodec.InputImageError, match="not a folder"):
        aecodec.encode_folder("memory://urlrun/nothing", "memory://urlrun/out3")
    fs.rm("memory://urlrun", recursive=True)
