"""Imported CompressAI models against CompressAI itself: file size, PSNR and thread invariance.

    python bench/compressai_import.py [--steps 400] [--image PATH] [--out bench/results/compressai_import.json]

For ``mbt2018-mean`` and ``bmshj2018-hyperprior`` at their zoo sizes (N=128, M=192): build the model with
CompressAI (no download), train it ``--steps`` RD steps on random 128px crops of the training split (so its
entropy models are not degenerate), save ``torch.save(net.state_dict())``, then through the command line:
``aecodec import compressai``, ``aecodec encode CROP --weights W``, ``aecodec decode --weights W`` at 1 and at 2
threads. The crop is the 256x256 centre of ``--image`` (Kodak's kodim05 by default: reporting only). Compared
with CompressAI's own ``compress`` bytes and ``decompress`` PSNR on the same crop and weights.

Why: ``aecodec import compressai`` promises files within a few bytes of CompressAI's (the bar: 3% + 64 bytes),
pixels within 0.05 dB of its ``decompress``, and the same pixels at any thread count; ``bar_met`` says so per
architecture.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from compressai.zoo import bmshj2018_hyperprior, mbt2018_mean
from PIL import Image

from aecodec.training.data import random_crops, resolve_images, split

KODIM = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "kodak" / "kodim05.png"
ZOO = {"mbt2018-mean": mbt2018_mean, "bmshj2018-hyperprior": bmshj2018_hyperprior}


def train(arch: str, crops: torch.Tensor, steps: int, lmbda: float = 0.0067) -> torch.nn.Module:
    torch.manual_seed(0)
    net = ZOO[arch](quality=3, pretrained=False)
    opt = torch.optim.Adam([p for n, p in net.named_parameters() if not n.endswith("quantiles")], 5e-4)
    aux = torch.optim.Adam([p for n, p in net.named_parameters() if n.endswith("quantiles")], 1e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        idx = torch.randint(len(crops), (8,), generator=gen)
        x = crops[idx].permute(0, 3, 1, 2).float() / 255
        out = net(x)
        bpp = sum(-lik.log2().flatten(1).sum(1) for lik in out["likelihoods"].values()).mean() / x[0, 0].numel()
        loss = lmbda * 255**2 * (out["x_hat"] - x).pow(2).mean() + bpp
        opt.zero_grad()
        aux.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        net.aux_loss().backward()
        opt.step()
        aux.step()
    return net.eval()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / ((a.astype(float) - b.astype(float)) ** 2).mean()))


def cli(*args: str, threads: int) -> None:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), TQDM_DISABLE="1")
    subprocess.run([sys.executable, "-m", "aecodec", *args], check=True, env=env, capture_output=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--image", type=Path, default=KODIM)
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    im = Image.open(a.image).convert("RGB")
    left, top = (im.width - 256) // 2, (im.height - 256) // 2
    crop = im.crop((left, top, left + 256, top + 256))
    original = np.asarray(crop)
    x = torch.from_numpy(original.copy()).permute(2, 0, 1)[None].float() / 255
    train_images, _ = split(resolve_images("train"))
    crops = random_crops(train_images[:400], 128, 1, 0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        crop.save(t / "crop.png")
        for arch in ZOO:
            t0 = time.time()
            net = train(arch, crops, a.steps)
            seconds = time.time() - t0
            torch.save(net.state_dict(), t / f"{arch}.pth.tar")
            net.update(force=True)
            with torch.no_grad():
                c = net.compress(x)
                ref = net.decompress(c["strings"], c["shape"])["x_hat"]
            theirs = (ref[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            their_bytes = sum(len(s[0]) for s in c["strings"])
            w = t / f"{arch}.safetensors"
            cli("import", "compressai", str(t / f"{arch}.pth.tar"), "--arch", arch, "-o", str(w), threads=2)
            aec = t / f"{arch}.aec"
            cli("encode", str(t / "crop.png"), "--weights", str(w), "-o", str(aec), threads=2)
            decoded = {}
            for threads in (1, 2):
                out = t / f"{arch}_{threads}.png"
                cli("decode", str(aec), "--weights", str(w), "-o", str(out), threads=threads)
                decoded[threads] = np.asarray(Image.open(out).convert("RGB"))
            ours = aec.stat().st_size
            row = {"arch": arch, "N": 128, "M": 192, "train_steps": a.steps, "train_seconds": round(seconds, 1),
                   "compressai_bytes": their_bytes, "aecodec_bytes": ours,
                   "bytes_ratio": round(ours / their_bytes, 4), "bar_bytes": round(1.03 * their_bytes + 64),
                   "compressai_psnr": round(psnr(original, theirs), 4),
                   "aecodec_psnr": round(psnr(original, decoded[2]), 4),
                   "pixels_identical_1_vs_2_threads": bool(np.array_equal(decoded[1], decoded[2])),
                   "weights_sha256": hashlib.sha256(w.read_bytes()).hexdigest()}
            row["psnr_delta"] = round(row["aecodec_psnr"] - row["compressai_psnr"], 4)
            row["bar_met"] = (ours <= row["bar_bytes"] and abs(row["psnr_delta"]) <= 0.05
                              and row["pixels_identical_1_vs_2_threads"])
            rows.append(row)
            print(json.dumps(row), flush=True)
    result = {"image": f"{a.image.name}, centre 256x256 crop", "torch": torch.__version__, "rows": rows}
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
