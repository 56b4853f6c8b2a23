"""Training-step speed of the hyperprior on this machine: memory format and torch.compile.

    python bench/train_speed.py [--batch 4] [--patch 256] [--steps 12] [--out bench/results/train_speed.json]

One step is what ``aecodec.training.loop`` does: forward at random levels, RD loss, backward, clipping, Adam. Each
variant gets warm-up steps (compilation included there, and reported apart), then ``--steps`` timed steps;
the medians decide whether a variant pays off (ratio = variant / channels_last seconds per step, below 1 =
faster). ``channels_last`` is what ``aecodec train`` runs (its batches are NHWC views), ``compile`` adds
``aecodec train --compile``, ``nchw`` is the contiguous layout a naive loop would feed.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from aecodec.training.losses import rd_loss
from aecodec.models.hyperprior import Hyperprior, HyperpriorConfig


def time_variant(name: str, batch: int, patch: int, steps: int, warmup: int) -> dict:
    torch.manual_seed(0)
    model = Hyperprior(HyperpriorConfig())
    fmt = torch.contiguous_format if "nchw" in name else torch.channels_last
    model = model.to(memory_format=fmt)
    net = torch.compile(model) if "compile" in name else model
    opt = torch.optim.Adam([p for n, p in model.named_parameters() if not n.endswith(".quantiles")], lr=1e-5)
    lam = torch.tensor(model.config.lambdas)
    gen = torch.Generator().manual_seed(0)

    def step() -> float:
        x = torch.rand(batch, 3, patch, patch, generator=gen).contiguous(memory_format=fmt)
        level = torch.randint(model.num_levels, (batch,), generator=gen)
        t = time.perf_counter()
        r = rd_loss(x, net(x, level), lam[level], "mse")
        opt.zero_grad(set_to_none=True)
        r.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return time.perf_counter() - t

    t0 = time.perf_counter()
    for _ in range(warmup):
        step()
    warm = time.perf_counter() - t0
    times = [step() for _ in range(steps)]
    return {"variant": name, "median_s_per_step": statistics.median(times), "warmup_s": warm,
            "steps_timed": steps}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--patch", type=int, default=256)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--variants", default="nchw,channels_last,compile,nchw+compile")
    p.add_argument("--out", type=Path, default=Path("bench/results/train_speed.json"))
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    rows = []
    for name in a.variants.split(","):
        rows.append(time_variant(name, a.batch, a.patch, a.steps, a.warmup))
        print(json.dumps(rows[-1]))
    base = next((r["median_s_per_step"] for r in rows if r["variant"] == "channels_last"), None)
    for r in rows:
        r["ratio_vs_channels_last"] = r["median_s_per_step"] / base if base else None
    result = {"torch": torch.__version__, "threads": a.threads, "batch": a.batch, "patch": a.patch, "rows": rows}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=1) + "\n")
    for r in rows:
        print(f"{r['variant']:>24}: {r['median_s_per_step']:.3f} s/step  x{r['ratio_vs_channels_last']:.2f}  "
              f"(warm-up {r['warmup_s']:.0f} s)")


if __name__ == "__main__":
    main()
