"""Probe: how much RD does a narrower synthesis lose, and how much decode time does it save?

    python bench/slim_decoder_probe.py --widths 128,64,32 --minutes 30 [--crops 600] [--anneal] [--out FILE.json]

The student is the default codec's synthesis (four transposed 5x5 convolutions with inverse GDN) with fewer
hidden channels, warm-started by keeping the teacher's channels whose outgoing weights are largest, then trained
to reproduce the original crops from the exact decoded latents of the frozen ``hyperprior-ctx`` (random
quality level per crop, 256px crops of the training split; with ``--anneal`` the learning rate follows a cosine
from ``--lr`` to zero over the run's minutes). Files are unchanged (a decoder-only change), so
RD is compared at identical bytes: PSNR of the student against ``hyperprior-ctx-pf3`` (synthesis + post-filter)
and ``hyperprior-ctx`` (synthesis alone) on the Kodak images given, at the given qualities, and the median
decode time of the synthesis stage on kodim05 at 2 threads.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

import aecodec
from aecodec.codecs.inference import FastSequential
from aecodec.models.gdn import GDN
from aecodec.models.hyperprior import deconv
from aecodec.training.data import random_crops, resolve_images, split

KODAK = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "kodak"


def slim(teacher: nn.Sequential, widths: list[int]) -> nn.Sequential:
    """The teacher's synthesis cut to ``widths`` hidden channels, keeping the channels whose outgoing weights
    (in the next transposed convolution) have the largest norm."""
    convs = [m for m in teacher if isinstance(m, nn.ConvTranspose2d)]
    gdns = [m for m in teacher if isinstance(m, GDN)]
    keep = [torch.arange(convs[0].in_channels)]
    for i, w in enumerate(widths):
        norms = convs[i + 1].weight.detach().flatten(1).norm(dim=1)
        keep.append(norms.argsort(descending=True)[:w].sort().values)
    keep.append(torch.arange(3))
    layers: list[nn.Module] = []
    for i, c in enumerate(convs):
        d = deconv(len(keep[i]), len(keep[i + 1]))
        d.weight.data = c.weight.detach()[keep[i]][:, keep[i + 1]].clone()
        d.bias.data = c.bias.detach()[keep[i + 1]].clone()
        layers.append(d)
        if i < len(gdns):
            g = GDN(len(keep[i + 1]), inverse=True)
            k = keep[i + 1]
            g.beta.data = gdns[i].beta.detach()[k].clone()
            g.gamma.data = gdns[i].gamma.detach()[k][:, k].clone()
            layers.append(g)
    return nn.Sequential(*layers)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / ((a.astype(float) - b.astype(float)) ** 2).mean()))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--widths", default="128,64,32")
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--crops", type=int, default=600)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--kodak", default="kodim01,kodim05,kodim13,kodim19,kodim21,kodim23")
    p.add_argument("--qualities", default="2,4,6,8")
    p.add_argument("--anneal", action="store_true")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    widths = [int(v) for v in a.widths.split(",")]
    base, filtered = aecodec.load("hyperprior-ctx"), aecodec.load("hyperprior-ctx-pf3")
    student = slim(base.transforms.g_s, widths).train()

    train_files, _ = split(resolve_images("train"))
    crops = random_crops(train_files[:a.crops], 256, 1, 0)
    gen = torch.Generator().manual_seed(0)
    levels = torch.randint(base.levels, (len(crops),), generator=gen)
    t0 = time.time()
    inputs = []
    with torch.no_grad():
        for i in range(len(crops)):
            x = crops[i:i + 1].permute(0, 3, 1, 2).float() / 255
            q16 = 16 * (int(levels[i]) + 1)
            y = base.transforms.analyze(x)
            inputs.append(base.latents.to_synthesis(base.latents.quantized(y, q16), q16, base.device).half())
    inputs = torch.cat(inputs)
    prepare_s = time.time() - t0

    # a learning curve on held-out crops (the training set's validation split, all at quality 6)
    _, val_files = split(resolve_images("train"))
    val = random_crops(val_files, 256, 1, 1)
    with torch.no_grad():
        val_x = val.permute(0, 3, 1, 2).float() / 255
        val_in = torch.cat([base.latents.to_synthesis(base.latents.quantized(base.transforms.analyze(v[None]), 96),
                                                      96, base.device) for v in val_x])
        val_teacher = filtered.synthesize(val_in, 96).clamp(0, 1)

    def val_gap() -> float:
        with torch.no_grad():
            mine = student(val_in).clamp(0, 1)
        p = lambda y: (-10 * torch.log10((y - val_x).pow(2).flatten(1).mean(1))).mean().item()  # noqa: E731
        return round(p(mine) - p(val_teacher), 3)

    opt = torch.optim.Adam(student.parameters(), a.lr)
    t0, step, losses, curve, next_check = time.time(), 0, [], [], 0.0
    while time.time() - t0 < 60 * a.minutes:
        if time.time() - t0 >= next_check:
            curve.append({"step": step, "seconds": round(time.time() - t0), "val_gap_vs_pf3_q6_db": val_gap()})
            next_check += 60 * a.minutes / 8
        if a.anneal:
            for g in opt.param_groups:
                g["lr"] = a.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (time.time() - t0) / (60 * a.minutes))))
        idx = torch.randint(len(crops), (a.batch,), generator=gen)
        x = crops[idx].permute(0, 3, 1, 2).contiguous().float() / 255
        loss = (student(inputs[idx].float()) - x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        step += 1
    train_s = time.time() - t0
    curve.append({"step": step, "seconds": round(train_s), "val_gap_vs_pf3_q6_db": val_gap()})
    student.eval()
    fast = FastSequential(student)

    rows = []
    for name in a.kodak.split(","):
        im = Image.open(KODAK / f"{name}.png").convert("RGB")
        ref = np.asarray(im)
        x = torch.from_numpy(ref.copy()).permute(2, 0, 1)[None].float() / 255
        for q in (int(v) for v in a.qualities.split(",")):
            data = aecodec.encode(im, codec="hyperprior-ctx", quality=q)
            q16 = 16 * q
            with torch.no_grad():
                y = base.transforms.analyze(x)
                latents = base.latents.to_synthesis(base.latents.quantized(y, q16), q16, base.device)
                out = {"student": fast(latents), "hyperprior-ctx": base.synthesize(latents, q16),
                       "hyperprior-ctx-pf3": filtered.synthesize(latents, q16)}
            row = {"image": name, "quality": q, "bpp": round(8 * len(data) / (im.width * im.height), 4)}
            for k, v in out.items():
                pix = (v.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
                row[k] = round(psnr(ref, pix), 3)
            rows.append(row)

    im = Image.open(KODAK / "kodim05.png").convert("RGB")
    x = torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        latents = base.latents.to_synthesis(base.latents.quantized(base.transforms.analyze(x), 96), 96, base.device)
        times = {"student": [], "synthesis": [], "synthesis+pf3": []}
        for _ in range(7):
            for k, fn in (("student", lambda: fast(latents)), ("synthesis", lambda: base.synthesize(latents, 96)),
                          ("synthesis+pf3", lambda: filtered.synthesize(latents, 96))):
                t = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t)
    med = {k: round(statistics.median(v), 4) for k, v in times.items()}
    gap = {k: round(statistics.mean(r["student"] - r[k] for r in rows), 3) for k in ("hyperprior-ctx",
                                                                                        "hyperprior-ctx-pf3")}
    torch.set_num_threads(2)
    result = {"widths": widths, "anneal": a.anneal, "threads": a.threads, "steps": step, "batch": a.batch, "lr": a.lr, "train_seconds": round(train_s),
              "prepare_seconds": round(prepare_s), "crops": len(crops),
              "final_loss": round(statistics.mean(losses[-100:]), 6), "curve": curve,
              "kodim05_q6_median_seconds": med, "mean_psnr_gap_db": gap, "rows": rows}
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}), flush=True)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
