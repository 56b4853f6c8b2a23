"""Crops cut once from images, and packs that store them as JPEG."""
import torch

from aecodec.training.crops import load_pack, random_crops, save_pack


def test_crops_and_pack(tmp_path, sample_path):
    crops = random_crops([sample_path], 128, 3, seed=0)
    assert crops.shape == (3, 128, 128, 3) and crops.dtype == torch.uint8
    save_pack(tmp_path / "p.npz", crops, crops[:1])
    tr, va = load_pack(tmp_path / "p.npz")
    assert tr.shape == crops.shape and (tr.float() - crops.float()).abs().mean() < 3  # JPEG q95
