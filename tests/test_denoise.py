"""`aecodec denoise`: the shipped denoising autoencoder removes noise, keeps size and mode, and tiles."""
import numpy as np
from click.testing import CliRunner
from PIL import Image

from aecodec.ae.denoise import denoise
from aecodec.cli.main import main
from aecodec.eval.metrics import psnr


def _noisy(sample_path, sigma=25.0):
    clean = np.asarray(Image.open(sample_path).convert("RGB"))
    rng = np.random.default_rng(0)
    noisy = np.clip(clean + rng.normal(0, sigma, clean.shape), 0, 255).round().astype(np.uint8)
    return clean, Image.fromarray(noisy)


def test_denoising_gains_psnr_and_keeps_the_image(sample_path):
    clean, noisy = _noisy(sample_path)
    out = denoise(noisy)
    assert out.size == noisy.size and out.mode == "RGB"
    assert psnr(clean, np.asarray(out)) > psnr(clean, np.asarray(noisy)) + 3
    gray = denoise(noisy.convert("LA"))
    assert gray.mode == "LA"
    assert np.array_equal(np.asarray(gray.getchannel("A")), np.asarray(noisy.convert("LA").getchannel("A")))


def test_tiles_match_the_whole_image_closely(sample_path, monkeypatch):
    import aecodec.ae.denoise as d

    _, noisy = _noisy(sample_path)
    whole = np.asarray(denoise(noisy), dtype=float)
    monkeypatch.setattr(d, "TILE", 128)
    tiled = np.asarray(denoise(noisy), dtype=float)
    assert np.abs(whole - tiled).mean() < 1.0


def test_cli(tmp_path, sample_path):
    _, noisy = _noisy(sample_path)
    noisy.save(tmp_path / "n.png")
    r = CliRunner().invoke(main, ["denoise", str(tmp_path / "n.png")])
    assert r.exit_code == 0, r.output
    assert Image.open(tmp_path / "n.denoised.png").size == noisy.size
    assert CliRunner().invoke(main, ["denoise", str(tmp_path / "n.png")]).exit_code == 7  # no --force
