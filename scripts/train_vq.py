"""The vqvae codec's codebooks and index priors, in two stages; writes aecodec/weights/vqvae.safetensors
(+ .json provenance).

    python scripts/train_vq.py --crops 600 --k0 1024 --out runs/vq_init.safetensors        # 1. initialise
    aecodec train --codec vqvae --init runs/vq_init.safetensors --out runs/vqvae ...         # 2. RD training
    python scripts/train_vq.py --finalize runs/vqvae/best.pt                                # 3. prune, export

Stage 1 (this script):
For each quality (a gain level of the shipped hyperprior) and each class (bucket of predicted scales), the
mean-removed latent pairs of random 256x256 training crops are clustered by entropy-constrained VQ: k-means++
start, then Lagrangian iterations that assign each vector to the code minimizing squared error + LAGRANGE * bits
and re-estimate codes and probabilities, dropping codes that fall out of use. Classes with too few training
vectors get no book (the codec maps them to the highest trained class); the initial book size is bounded by the
data (one code per 30 vectors at most) and codes used by under 0.03% of a class's vectors are dropped, so every
code is supported by training data.
Stage 2 is the project's training loop (``aecodec.models.vqvae``): codewords learn image distortion through
the frozen synthesis, the priors learn the rate. Stage 3 (``--finalize``) keeps only the codes a test set of
10 megapixels with the training data's statistics would use ``--min-per-10mp`` times on average (so none is
dead weight), and sets each prior to the counts of the final assignment on the training crops.
Kodak is never used.
"""
import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from aecodec.training.data import random_crops, resolve_images, split
from aecodec.coding.fixedpoint import FRAC_A
from aecodec.coding.ans import quantize_probabilities
from aecodec.registry import get_codec
from aecodec.models.quantizers import kmeans
from aecodec.training.vqvae import VQConfig, VQVAE
from aecodec.codecs.vq import CLASSES, LAGRANGE, export_vq, latent_pairs
from aecodec.codecs.weights import file_hash

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


def finalize(a, hp, base, ys: torch.Tensor, pixels: int, t0: float) -> None:
    """Prune the trained run's codes the data would rarely use, set the priors to the final counts, export."""
    ckpt = torch.load(a.finalize, map_location="cpu", weights_only=False)
    c = VQConfig.from_dict(ckpt["config"])
    model = VQVAE(hp, c.levels, c.sizes)
    model.load_state_dict(ckpt["model"])
    min_count = math.ceil(a.min_per_10mp * pixels / 1e7)
    books, freqs, counts = model.finalize([y[None] for y in ys], min_count)
    print(f"pruned to {sum(c.sizes.values())} -> {sum(model.config.sizes.values())} codes "
          f"({time.time() - t0:.0f} s)", flush=True)
    report = {}
    for (q, cl), n in sorted(counts.items()):
        pr = n / n.sum()
        report.setdefault(q, {"level": c.levels[q - 1] + 1, "classes": {}})["classes"][cl] = {
            "vectors": int(n.sum()), "codes": len(n), "bits_per_index": float(-(pr * np.log2(pr)).sum()),
            "log2_codes": math.log2(len(n))}
    init = json.loads(Path(ckpt["options"]["init"]).with_suffix(".json").read_text())
    init = init.get("training", init)  # a shipped file's provenance wraps its training record
    opts = ckpt["options"]
    export_vq(a.out, file_hash(base.weights_path).hex(), c.levels, books, freqs, {
        "codec": "vqvae", "base": "hyperprior.safetensors (transforms and hyper-prior, frozen)",
        "base_sha256": file_hash(base.weights_path).hex(), "levels": [lv + 1 for lv in c.levels],
        "init": {k: init[k] for k in ("data", "method", "seconds", "command") if k in init},
        "training": {"loop": "aecodec train --codec vqvae: lambda * 255^2 * MSE through the frozen synthesis "
                             "+ bits of the chosen indices under the learned priors",
                     "steps": int(ckpt["step"]), "best_val_loss": float(ckpt["best_val"]),
                     "options": {k: opts[k] for k in ("data", "batch", "patch", "lr", "warmup", "steps", "seed")}},
        "finalize": {"data": f"{len(ys)} random 256x256 crops of datasets.toml 'train' minus its validation split",
                     "min_per_10mp": a.min_per_10mp, "min_count": min_count,
                     "command": f"python scripts/train_vq.py --finalize {a.finalize} --crops {a.crops}"},
        "seconds": round(time.time() - t0, 1), "per_quality": report})
    print(f"wrote {a.out} in {time.time() - t0:.0f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--crops", type=int, default=600)
    p.add_argument("--levels", default="0,1,2,3,4")
    p.add_argument("--k0", type=int, default=512)
    p.add_argument("--iterations", type=int, default=12)
    p.add_argument("--out", type=Path, default=ROOT / "aecodec" / "weights" / "vqvae.safetensors")
    p.add_argument("--finalize", type=Path, help="checkpoint of `aecodec train --codec vqvae`: prune and export")
    p.add_argument("--min-per-10mp", type=float, default=8.0)
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
        ys = torch.cat([m.analysis(crops[i:i + 16]) for i in range(0, len(crops), 16)])
    print(f"latents in {time.time() - t0:.0f} s", flush=True)
    if a.finalize:
        finalize(a, hp, base, ys, crops.shape[-2] * crops.shape[-1] * len(crops), t0)
        return
    books, freqs, report = {}, {}, {}
    for q, level in enumerate(levels, start=1):
        hq16 = 16 * (level + 1)
        per_class: dict[int, list[torch.Tensor]] = {c: [] for c in range(CLASSES)}
        with torch.no_grad():
            for y in ys:
                _, vec, cls, _ = latent_pairs(hp, y[None], hq16, CLASSES - 1)
                vec = vec.float()
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
