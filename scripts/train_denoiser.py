"""Train the denoising autoencoder behind `aecodec denoise`; writes aecodec/weights/denoiser.safetensors + .json.

    python scripts/train_denoiser.py [--steps 3000] [--seconds 900]

Data: random 128x128 crops of the training split of datasets.toml 'train' (never Kodak); noise: Gaussian with a
standard deviation drawn per image from 5 to 50 (of 255), clean target (blind denoising). Validation: held-out
crops at sigma 25, PSNR gain reported.
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F

from aecodec.ae.denoise import WEIGHTS, make_denoiser, save_denoiser
from aecodec.datasets import resolve_images, split
from aecodec.eval.metrics import db_from_mse
from aecodec.optim import cosine_lr
from aecodec.training.batches import sample_batch
from aecodec.training.crops import random_crops


def noisy(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    sigma = (5 + 45 * torch.rand(len(x), 1, 1, 1, generator=gen)) / 255
    return (x + sigma * torch.randn(x.shape, generator=gen)).clamp(0, 1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seconds", type=float, default=900)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--patch", type=int, default=64)
    a = p.parse_args()
    torch.manual_seed(0)
    train_paths, val_paths = split(resolve_images("train"))
    crops = random_crops(train_paths, 128, 1, seed=5)
    val = sample_batch(random_crops(val_paths, 128, 2, seed=6), 64, 128, torch.Generator().manual_seed(7))
    val_noisy = (val + 25 / 255 * torch.randn(val.shape, generator=torch.Generator().manual_seed(8))).clamp(0, 1)
    model = make_denoiser()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    gen = torch.Generator().manual_seed(1)
    t0 = time.time()
    step = 0
    for step in range(a.steps):
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, 1e-3, 100, a.steps)
        x = sample_batch(crops, a.batch, a.patch, gen)
        loss = F.mse_loss(model(noisy(x, gen))[0], x)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 250 == 0:
            print(f"step {step}: loss {loss.item():.5f} ({time.time() - t0:.0f} s)", flush=True)
        if time.time() - t0 > a.seconds:
            break
    model.eval()
    with torch.no_grad():
        gain = float(db_from_mse((model(val_noisy)[0] - val).pow(2).mean())
                     - db_from_mse((val_noisy - val).pow(2).mean()))
    save_denoiser(model)
    WEIGHTS.with_suffix(".json").write_text(json.dumps({
        "model": "ConvAE(3, (48, 96), code=64, skips=True, residual=True)", "steps": step + 1,
        "batch": a.batch, "patch": a.patch, "data": "datasets.toml 'train' minus its validation split, 128px crops",
        "noise": "Gaussian, sigma uniform in [5, 50]/255 per image", "seconds": round(time.time() - t0, 1),
        "val_sigma25_psnr_gain_db": round(gain, 2), "val_images": len(val_paths),
        "command": f"python scripts/train_denoiser.py --steps {a.steps} --seconds {a.seconds}"}, indent=1) + "\n")
    print(f"validation (sigma 25): PSNR gain {gain:.2f} dB; wrote {WEIGHTS}")


if __name__ == "__main__":
    main()
