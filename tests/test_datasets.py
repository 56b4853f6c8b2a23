"""Image folders, named datasets and the split, without PyTorch."""
import subprocess
import sys
from pathlib import Path

import aecodec.datasets
from aecodec.datasets import datasets_toml, load_datasets, resolve_images, split


def test_datasets_load_no_pytorch_and_find_images_in_folders(tmp_path):
    code = "import sys, aecodec.datasets; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60).returncode == 0
    (tmp_path / "sub").mkdir()
    for name in ("b.PNG", "sub/a.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "folder.png").mkdir()
    assert aecodec.datasets.folder_images(tmp_path) == [tmp_path / "b.PNG", tmp_path / "sub" / "a.jpg"]


def test_datasets_toml_names_and_override(monkeypatch, tmp_path):
    assert "train" in load_datasets() and "kodak" not in load_datasets()  # Kodak is fetched, not a local path
    monkeypatch.setenv("AECODEC_DATASET_TRAIN", str(tmp_path))
    assert load_datasets()["train"].root == tmp_path.resolve()
    (tmp_path / "x.png").write_bytes(b"")
    monkeypatch.setenv("AECODEC_DATASET_KODAK", str(tmp_path))  # a folder for a fetched name: no fetch
    assert resolve_images("kodak") == [tmp_path / "x.png"]


def test_split_is_deterministic_and_disjoint(tmp_path):
    paths = [tmp_path / f"img{i}.jpg" for i in range(500)]
    train, val = split(paths)
    assert split(paths) == (train, val)
    assert not set(train) & set(val) and 5 <= len(val) <= 30


def test_the_repository_datasets_toml_is_found_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("AECODEC_DATASETS_TOML", raising=False)
    monkeypatch.chdir(tmp_path)
    assert datasets_toml() == Path(__file__).resolve().parent.parent / "datasets.toml"
