from pathlib import Path

import torch

from aecodec.training.data import load_datasets, load_pack, random_crops, save_pack, split


def test_datasets_toml_names_and_override(monkeypatch, tmp_path):
    specs = load_datasets()
    assert {"kodak", "train"} <= set(specs)
    monkeypatch.setenv("AECODEC_DATASET_KODAK", str(tmp_path))
    assert load_datasets()["kodak"].root == tmp_path.resolve()


def test_split_is_deterministic_and_disjoint(tmp_path):
    paths = [tmp_path / f"img{i}.jpg" for i in range(500)]
    train, val = split(paths)
    assert split(paths) == (train, val)
    assert not set(train) & set(val) and 5 <= len(val) <= 30


def test_crops_and_pack(tmp_path, sample_path):
    crops = random_crops([sample_path], 128, 3, seed=0)
    assert crops.shape == (3, 128, 128, 3) and crops.dtype == torch.uint8
    save_pack(tmp_path / "p.npz", crops, crops[:1])
    tr, va = load_pack(tmp_path / "p.npz")
    assert tr.shape == crops.shape and (tr.float() - crops.float()).abs().mean() < 3  # JPEG q95


def test_the_repository_datasets_toml_is_found_from_any_folder(tmp_path, monkeypatch):
    from aecodec.training.data import datasets_toml

    monkeypatch.delenv("AECODEC_DATASETS_TOML", raising=False)
    monkeypatch.chdir(tmp_path)
    assert datasets_toml() == Path(__file__).resolve().parent.parent / "datasets.toml"
