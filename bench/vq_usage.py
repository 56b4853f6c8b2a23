"""Codebook usage and index rate of the vqvae codec on a dataset (Kodak by default; reporting only).

    python bench/vq_usage.py [--dataset kodak] [--out bench/results/vqvae_usage.json]

Per quality: the share of codewords used at least once over the whole dataset (``usage``), the perplexity of
the code distribution relative to the codebook size, the index rate actually written (bits per index, from the
real streams) against the prior's cross-entropy and against log2(K), the cost of fixed-length indices.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import aecodec
from aecodec.training.data import resolve_images
from aecodec.image import pad_to, split_image
from aecodec.coding.ans import cross_entropy_bits
from aecodec.codecs.vq import latent_pairs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="kodak")
    p.add_argument("--out", type=Path, default=Path("bench/results/vqvae_usage.json"))
    a = p.parse_args()
    vq = aecodec.get_codec("vqvae").load()
    hp, m = vq.hp, vq.model
    images = [pad_to(split_image(Image.open(f).convert("RGB"))[0], m.stride) for f in resolve_images(a.dataset)]
    report = {"dataset": a.dataset, "images": len(images), "qualities": {}}
    with torch.no_grad():
        ys = [m.analysis(x) for x in images]
    for q in range(1, len(vq.levels) + 1):
        hq16 = 16 * (vq.levels[q - 1] + 1)
        used = {c: np.zeros(len(vq.freqs[(q, c)]), np.int64) for c in range(vq.top[q] + 1)}
        stream_bits = ideal_bits = fixed_bits = n = 0
        for x, y in zip(images, ys):
            streams, _ = vq.compress(x, 16 * q)
            stream_bits += 8 * len(streams[1])
            _, v, cls, _ = latent_pairs(hp, y, hq16, vq.top[q])
            codes = vq.nearest(q, cls, v)
            for c in torch.unique(cls).tolist():
                sel = codes[cls == c].numpy()
                used[c] += np.bincount(sel, minlength=len(used[c]))
                ideal_bits += cross_entropy_bits(sel, vq.freqs[(q, c)])
                fixed_bits += len(sel) * math.log2(len(vq.freqs[(q, c)]))
            n += len(codes)
        total = sum(len(u) for u in used.values())
        hit = sum(int((u > 0).sum()) for u in used.values())
        perplexity_share = []
        for u in used.values():
            if u.sum():
                pr = u[u > 0] / u.sum()
                perplexity_share.append((math.exp(-(pr * np.log(pr)).sum()) / len(u), int(u.sum())))
        report["qualities"][q] = {
            "codes": total, "usage": hit / total,
            "usage_by_class": [round(float((u > 0).mean()), 3) for u in used.values()],
            "perplexity_over_K_weighted": sum(s * w for s, w in perplexity_share) / sum(w for _, w in perplexity_share),
            "index_bits_per_index": stream_bits / n, "prior_cross_entropy_bits": ideal_bits / n,
            "stream_overhead_vs_cross_entropy": stream_bits / ideal_bits - 1,
            "log2K_bits_per_index": fixed_bits / n, "indices": n}
        print(q, json.dumps(report["qualities"][q]), flush=True)
    a.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
