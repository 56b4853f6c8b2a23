"""Imported CompressAI models against CompressAI itself: file size, PSNR, decode time and thread invariance.

    python bench/compressai_import.py [--archs mbt2018,cheng2020-anchor] [--N 64] [--M 64] [--steps 300]
                                      [--published-size] [--crop 0] [--repeats 5] [--image PATH] [--out FILE.json]

For each architecture: build the model with CompressAI (no download; N and M as given, M = N for cheng2020), train
it ``--steps`` RD steps on random 128px crops of the training split (so that its entropy models are not degenerate).
With ``--published-size`` the model is instead the one CompressAI's zoo function builds at the size its checkpoints
are published (``mbt2018(quality=8)``: N=192, M=320; ``cheng2020_anchor(quality=6)``: N=192), seeded and untrained:
the coding path's work does not depend on training. Then save ``torch.save(net.state_dict())``, then through the
command line ``aecodec import compressai``, ``aecodec encode --weights W`` and ``aecodec decode --weights W`` at 1
and at 2 threads. The image is ``--image`` (Kodak's kodim05 by default: reporting only), whole with ``--crop 0``,
else its centre crop of that side. Compared with CompressAI's own ``compress`` bytes and ``decompress`` PSNR on the
same image and weights; encode and decode times of both in this process on 2 threads, interleaved, medians of
``--repeats``.

Why: ``aecodec import compressai`` promises files within 1% (+100 bytes of container) of CompressAI's, pixels
within 0.05 dB of its ``decompress`` and the same at any thread count, and for the autoregressive models a
decode in at most 0.2x of CompressAI's time (small models) or, at the published sizes, a decode within 1.3x of
CompressAI's synthesis transform ``g_s`` alone (timed on a latent of the same shape: the floor of any decoder of
the model) and at most 0.35x of its ``decompress``, and an encode at most 0.35x of its ``compress``; ``bar_met``
says so per architecture.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from compressai import models, zoo
from PIL import Image

import aecodec
from aecodec.codecs.imported import ARCHS
from aecodec.datasets import resolve_images, split
from aecodec.eval.metrics import psnr
from aecodec.training.crops import random_crops

KODIM = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "kodak" / "kodim05.png"
PUBLISHED_QUALITY = {"mbt2018": 8, "mbt2018-mean": 8, "bmshj2018-hyperprior": 8, "bmshj2018-factorized": 8,
                     "cheng2020-anchor": 6, "cheng2020-attn": 6}  # the zoo qualities of the largest published size


def build(arch: str, N: int, M: int, published: bool = False) -> torch.nn.Module:
    if published:
        return getattr(zoo, arch.replace("-", "_"))(quality=PUBLISHED_QUALITY[arch])
    cls = getattr(models, ARCHS[arch].compressai_class)
    return cls(N) if ARCHS[arch].residual else cls(N, M)


def train(net: torch.nn.Module, crops: torch.Tensor, steps: int, lmbda: float = 0.0067) -> torch.nn.Module:
    opt = torch.optim.Adam([p for n, p in net.named_parameters() if not n.endswith("quantiles")], 5e-4)
    aux = torch.optim.Adam([p for n, p in net.named_parameters() if n.endswith("quantiles")], 1e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        idx = torch.randint(len(crops), (8,), generator=gen)
        # contiguous: on a channels-last batch torch 2.14's CPU backward of cheng2020 segfaulted
        x = crops[idx].permute(0, 3, 1, 2).contiguous().float() / 255
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


def cli(*args: str, threads: int) -> None:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), TQDM_DISABLE="1")
    subprocess.run([sys.executable, "-m", "aecodec", *args], check=True, env=env, capture_output=True)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--archs", default="mbt2018,cheng2020-anchor")
    p.add_argument("--N", type=int, default=64)
    p.add_argument("--M", type=int, default=64)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--published-size", action="store_true",
                   help="the zoo's published N and M, seeded and untrained (--N, --M and --steps unused)")
    p.add_argument("--crop", type=int, default=0, help="centre crop side in pixels; 0 = the whole image")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--image", type=Path, default=KODIM)
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    torch.set_num_threads(2)
    im = Image.open(a.image).convert("RGB")
    if a.crop:
        left, top = (im.width - a.crop) // 2, (im.height - a.crop) // 2
        im = im.crop((left, top, left + a.crop, top + a.crop))
    original = np.asarray(im)
    x = torch.from_numpy(original.copy()).permute(2, 0, 1)[None].float() / 255
    steps = 0 if a.published_size else a.steps
    crops = None if a.published_size else random_crops(split(resolve_images("train"))[0][:400], 128, 1, 0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        im.save(t / "image.png")
        for arch in a.archs.split(","):
            torch.manual_seed(0)
            net = build(arch, a.N, a.M, a.published_size)
            t0 = time.time()
            if steps:
                train(net, crops, steps)
            seconds = time.time() - t0
            net.eval()
            torch.save(net.state_dict(), t / f"{arch}.pth.tar")
            net.update(force=True)
            w, aec = t / f"{arch}.safetensors", t / f"{arch}.aec"
            cli("import", "compressai", str(t / f"{arch}.pth.tar"), "--arch", arch, "-o", str(w), threads=2)
            cli("encode", str(t / "image.png"), "--weights", str(w), "-o", str(aec), threads=2)
            decoded = {}
            for threads in (1, 2):
                out = t / f"{arch}_{threads}.png"
                cli("decode", str(aec), "--weights", str(w), "-o", str(out), threads=threads)
                decoded[threads] = np.asarray(Image.open(out).convert("RGB"))
            with torch.no_grad():
                c = net.compress(x)
                theirs = net.decompress(c["strings"], c["shape"])["x_hat"]
                theirs = (theirs[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
                data = aec.read_bytes()
                aecodec.decode(data, weights=w)  # load once: the times below are of coding alone
                y = torch.zeros(1, net.M, *c["shape"]).repeat_interleave(4, 2).repeat_interleave(4, 3)
                times = {"compressai_encode": [], "aecodec_encode": [], "compressai_decode": [], "aecodec_decode": [],
                         "compressai_g_s": []}
                for _ in range(a.repeats):  # interleaved: drifting machine load hits both alike
                    times["compressai_encode"].append(timed(lambda: net.compress(x)))
                    times["aecodec_encode"].append(timed(lambda: aecodec.encode(im, weights=w)))
                    times["compressai_decode"].append(timed(lambda: net.decompress(c["strings"], c["shape"])))
                    times["aecodec_decode"].append(timed(lambda: aecodec.decode(data, weights=w)))
                    times["compressai_g_s"].append(timed(lambda: net.g_s(y)))
            their_bytes = sum(len(s[0]) for s in c["strings"])
            ours = len(data)
            med = {k: round(statistics.median(v), 3) for k, v in times.items()}
            row = {"arch": arch, "N": net.N, "M": net.M, "published_size": a.published_size, "train_steps": steps,
                   "train_seconds": round(seconds, 1),
                   "compressai_bytes": their_bytes, "aecodec_bytes": ours,
                   "bytes_ratio": round(ours / their_bytes, 4), "bar_bytes": round(1.01 * their_bytes + 100),
                   "compressai_psnr": round(psnr(original, theirs), 4),
                   "aecodec_psnr": round(psnr(original, decoded[2]), 4),
                   "pixels_identical_1_vs_2_threads": bool(np.array_equal(decoded[1], decoded[2])),
                   "median_seconds": med,
                   "decode_time_ratio": round(med["aecodec_decode"] / med["compressai_decode"], 3),
                   "encode_time_ratio": round(med["aecodec_encode"] / med["compressai_encode"], 3),
                   "decode_over_g_s": round(med["aecodec_decode"] / med["compressai_g_s"], 3),
                   "weights_sha256": hashlib.sha256(w.read_bytes()).hexdigest()}
            row["psnr_delta"] = round(row["aecodec_psnr"] - row["compressai_psnr"], 4)
            fast = (row["decode_over_g_s"] <= 1.3 and row["decode_time_ratio"] <= 0.35
                    and row["encode_time_ratio"] <= 0.35) if a.published_size else row["decode_time_ratio"] <= 0.2
            row["bar_met"] = (ours <= row["bar_bytes"] and abs(row["psnr_delta"]) <= 0.05
                              and row["pixels_identical_1_vs_2_threads"]
                              and (ARCHS[arch].layout != "features" or fast))
            rows.append(row)
            print(json.dumps(row), flush=True)
    result = {"image": f"{a.image.name}, {f'centre {a.crop}x{a.crop} crop' if a.crop else 'whole'} "
                       f"({im.width}x{im.height})", "threads": 2, "torch": torch.__version__,
              "command": "python bench/compressai_import.py " + " ".join(sys.argv[1:]), "rows": rows}
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
