"""How much spatial redundancy the shipped hyperprior leaves in its latents: what a context model can still find.

    python bench/latent_redundancy.py [--crops 200] [--out bench/results/latent_redundancy.json]

Random 256x256 crops of the training split (never Kodak) through the frozen shipped model; per quality level, the
residual ``e = y * g - mu * g`` and scale ``s = max(sigma * g, 0.11)``: the R^2 of the best linear prediction of
``e`` from its 4 neighbours (same channel), and the correlation of ``|e| / s`` with the mean of its neighbours'
(same channel) and with the mean over other channels at the same position. Means are what a checkerboard context
model can refine; magnitudes are what it can use to refine scales.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from aecodec.training.data import random_crops, resolve_images, split
from aecodec.registry import get_codec


def corr(a: torch.Tensor, b: torch.Tensor) -> float:
    return torch.corrcoef(torch.stack([a.reshape(-1), b.reshape(-1)]))[0, 1].item()


@torch.no_grad()
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--crops", type=int, default=200)
    p.add_argument("--out", type=Path, default=Path("bench/results/latent_redundancy.json"))
    a = p.parse_args()
    train, _ = split(resolve_images("train"))
    x = random_crops(train[::max(1, len(train) // a.crops)][:a.crops], 256, 1, 0).permute(0, 3, 1, 2).float() / 255
    m = get_codec("hyperprior").load().model.float().eval()
    y = torch.cat([m.analysis(x[i:i + 16]) for i in range(0, len(x), 16)])
    rows = []
    for lvl in range(m.num_levels):
        g, _, hg, ihg = m.gains(torch.full((len(y),), lvl))
        mu, sigma = m.h_s(torch.round(m.h_a(y) * hg) * ihg).chunk(2, 1)
        e, s = (y - mu) * g, (sigma * g).clamp_min(0.11)
        shifts = ((1, 2), (-1, 2), (1, 3), (-1, 3))
        inner = (slice(None), slice(None), slice(1, -1), slice(1, -1))
        nb = torch.stack([torch.roll(e, k, d) for k, d in shifts], -1)[inner].reshape(-1, 4)
        target = e[inner].reshape(-1)
        fit = torch.linalg.lstsq(nb, target[:, None]).solution
        r2 = 1 - ((target - (nb @ fit)[:, 0]) ** 2).mean() / (target ** 2).mean()
        mag = e.abs() / s
        nb_mag = sum(torch.roll(mag, k, d) for k, d in shifts) / 4
        half = mag.shape[1] // 2
        rows.append({"quality": lvl + 1, "linear_r2_neighbours": round(r2.item(), 5),
                     "magnitude_corr_neighbours": round(corr(mag[inner], nb_mag[inner]), 3),
                     "magnitude_corr_other_channels": round(corr(
                         mag[:, half:], mag[:, :half].mean(1, keepdim=True).expand_as(mag[:, half:])), 3)})
        print(rows[-1])
    a.out.write_text(json.dumps({"crops": len(x), "levels": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
