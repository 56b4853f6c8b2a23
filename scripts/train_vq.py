"""Train the vqvae codec's codebooks and index priors on training-set latents; writes
aecodec/weights/vqvae.safetensors (+ .json provenance).

    python scripts/train_vq.py [--crops 600] [--levels 0,1,2,3,4]

For each quality (a gain level of the shipped hyperprior) and each class (bucket of predicted scales), the
mean-removed latent pairs of random 256x256 training crops are clustered by entropy-constrained VQ: k-means++
start, then Lagrangian iterations that assign each vector to the code minimizing squared error + LAGRANGE * bits
and re-estimate codes and probabilities, dropping codes that fall out of use. Classes with too few training
vectors get no book (the codec maps them to the highest trained class); the initial book size is bounded by the
data (one code per 30 vectors at most) and codes used by under 0.03% of a class's vectors are dropped, so every
code is supported by training data.
Kodak is never used.
"""
import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from aecodec.data import random_crops, resolve_images, split
from aecodec.fixedpoint import FRAC_A, FRAC_G
from aecodec.index_coding import quantize_probabilities
from aecodec.registry import get_codec
from aecodec.vq import kmeans
from aecodec.vqcodec import CLASSES, LAGRANGE, classes_of, export_vq, pair_vectors
from aecodec.weightfile import file_hash

ROOT = Path(__file__).resolve().parent.parent
MIN_REAL = 200  # vectors a class needs to be trained on real data


def ecvq(v: torch.Tensor, k0: int, iterations: int, gen: torch.Generator) -> tuple[torch.Tensor, np.ndarray]:
    """Entropy-constrained VQ of rows of ``v`` [n, 2] -> (codebook [K, 2], counts [K])."""
    book = kmeans(v, min(k0, len(v)), iterations=3, generator=gen)
    p = torch.full((len(book),), 1.0 / len(book), dtype=torch.float64)
    for _ in range(iterations):
        bits = -torch.log2(p)
        assign = torch.cat([(torch.cdist(v[i:i + 65536], book).pow(2) + LAGRANGE * bits).argmin(1)
                            for i in range(0, len(v), 65536)])
        counts = torch.bincount(assign, minlength=len(book)).double()
        keep = counts >= max(2, 3e-4 * len(v))  # codes the data barely uses are dropped
        sums = torch.zeros_like(book).index_add_(0, assign, v)
        book = sums[keep] / counts[keep, None].to(v.dtype)
        p = counts[keep] / counts[keep].sum()
    assign = torch.cat([(torch.cdist(v[i:i + 65536], book).pow(2) + LAGRANGE * -torch.log2(p)).argmin(1)
                        for i in range(0, len(v), 65536)])
    counts = torch.bincount(assign, minlength=len(book))
    return book[counts > 0], counts[counts > 0].numpy()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--crops", type=int, default=600)
    p.add_argument("--levels", default="0,1,2,3,4")
    p.add_argument("--k0", type=int, default=512)
    p.add_argument("--iterations", type=int, default=12)
    p.add_argument("--out", type=Path, default=ROOT / "aecodec" / "weights" / "vqvae.safetensors")
    a = p.parse_args()
    t0 = time.time()
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    levels = [int(v) for v in a.levels.split(",")]
    base = get_codec("hyperprior")
    hp = base.load()
    m = hp.model
    train_paths, _ = split(resolve_images("train"))
    rng = np.random.default_rng(0)
    paths = [train_paths[i] for i in rng.choice(len(train_paths), min(a.crops, len(train_paths)), replace=False)]
    crops = random_crops(paths, 256, 1, seed=3).permute(0, 3, 1, 2).float() / 255
    print(f"{len(crops)} crops in {time.time() - t0:.0f} s", flush=True)
    with torch.no_grad():
        ys = torch.cat([m.g_a(crops[i:i + 16]) for i in range(0, len(crops), 16)])
    print(f"latents in {time.time() - t0:.0f} s", flush=True)
    books, freqs, report = {}, {}, {}
    for q, level in enumerate(levels, start=1):
        hq16 = 16 * (level + 1)
        g = hp._int_gain(hp.gain_fixed, hq16).to(torch.float64)[None, :, None, None] / (1 << FRAC_G)
        per_class: dict[int, list[torch.Tensor]] = {c: [] for c in range(CLASSES)}
        with torch.no_grad():
            for y in ys:
                z_hat = torch.round(m.h_a(y[None]) * hp._float_gain(m.log_hyper_gain, hq16)).to(torch.int64)
                idx, mu_g = hp._parameters(z_hat, hq16)
                v = y[None].to(torch.float64) * g - mu_g.to(torch.float64) / (1 << FRAC_A)
                cls, vec = classes_of(idx), pair_vectors(v).float()
                for c in torch.unique(cls).tolist():
                    per_class[c].append(vec[cls == c])
        report[q] = {"level": level + 1, "classes": {}}
        for c in range(CLASSES):
            real = torch.cat(per_class[c]) if per_class[c] else torch.zeros(0, 2)
            if len(real) > 80_000:
                real = real[torch.randperm(len(real), generator=gen)[:80_000]]
            if len(real) < MIN_REAL:  # too rare to train: the codec uses the highest trained class's book
                break
            book, counts = ecvq(real, min(a.k0, max(2, len(real) // 30)), a.iterations, gen)
            books[(q, c)] = torch.round(book.double() * (1 << FRAC_A)).long()
            freqs[(q, c)] = quantize_probabilities(counts.astype(np.float64))
            pr = counts / counts.sum()
            report[q]["classes"][c] = {"vectors": int(len(real)), "codes": int(len(book)),
                                       "bits_per_index": float(-(pr * np.log2(pr)).sum()),
                                       "log2_codes": math.log2(len(book))}
        print(f"quality {q}: codes per class {[r['codes'] for r in report[q]['classes'].values()]} "
              f"({time.time() - t0:.0f} s)", flush=True)
    export_vq(a.out, file_hash(base.weights_path).hex(), levels, books, freqs, {
        "codec": "vqvae", "base": "hyperprior.safetensors (transforms and hyper-prior, frozen)",
        "base_sha256": file_hash(base.weights_path).hex(), "levels": [lv + 1 for lv in levels],
        "data": f"{len(crops)} random 256x256 crops of datasets.toml 'train' minus its validation split",
        "method": "entropy-constrained VQ of mean-removed latent channel pairs per scale class, "
                  f"k0={a.k0}, {a.iterations} Lagrangian iterations, lambda={LAGRANGE:.4f}",
        "seconds": round(time.time() - t0, 1), "command": f"python scripts/train_vq.py --crops {a.crops}",
        "per_quality": report})
    print(f"wrote {a.out} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
