"""How many bits could a channel-conditional context save on top of the shipped checkerboard context?

    python bench/channel_context_probe.py [--steps 3000] [--out bench/results/channel_context_probe.json]

A measurement before a codec (issue 17's lever table): a float model on the frozen latents of the training
crops (the same cache as ``aecodec train --codec hyperprior-ctx``, in ``--run``), validated on the held-out
split at every level with real rounding. The latent channels are split in two groups; the second group is coded
after the first and predicted from it:

    pass 1  anchors of group 1       under the hyperprior (as today)
    pass 2  anchors of group 2       hyperprior + a correction from group 1's anchors        (new)
    pass 3  non-anchors of group 1   the shipped checkerboard context (as today)
    pass 4  non-anchors of group 2   the checkerboard's + a correction from all of group 1  (new)

Each correction is a 5x5 context convolution, a per-level bias and a 1x1 entropy-parameter network whose last
layer starts at zero, so the probe starts at the shipped codec's bits. What it reports (saving of the total
bits, z included, against the shipped checkerboard) is what an integer twin of such a model could reach; it
is not a codec and writes no weights.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from torch import Tensor, nn

import aecodec
from aecodec.models.context import (CheckerboardContext, ContextConfig, anchor_mask, checkerboard_bits,
                                   discrete_bits, hyper_side)
from aecodec.training.options import TrainOptions
from aecodec.training.tasks.common import frozen_latents, read_state


class Correction(nn.Module):
    """(mean, scale) [B, 2C, h, w] of a group, corrected from context features of ``cin`` channels."""

    def __init__(self, c: int, cin: int, levels: int, width: int = 128, hidden: int = 256):
        super().__init__()
        self.ctx = nn.Conv2d(cin, width, 5, padding=2)
        self.level_bias = nn.Parameter(torch.zeros(levels, width))
        self.ep = nn.Sequential(nn.Conv2d(2 * c + width, hidden, 1), nn.ReLU(),
                                nn.Conv2d(hidden, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, 2 * c, 1))
        nn.init.zeros_(self.ep[-1].weight)
        nn.init.zeros_(self.ep[-1].bias)

    def forward(self, context: Tensor, params: Tensor, level: Tensor) -> Tensor:
        feat = torch.relu(self.ctx(context) + self.level_bias[level][:, :, None, None])
        return params + self.ep(torch.cat([params, feat], 1))


def rounded(v: Tensor, noise: bool) -> Tensor:
    return v + torch.empty_like(v).uniform_(-0.5, 0.5) if noise else torch.round(v)


def bits(base, ctx, probe: nn.ModuleDict, y: Tensor, level: Tensor, noise: bool) -> Tensor:
    """Total bits per sample of latents ``y`` (z included) with the two channel corrections; summed in the order
    of the shipped checkerboard's (``reference_bits``), so a fresh probe gives exactly its bits."""
    g, params, z_bits = hyper_side(base, y, level)
    m = y.shape[1] // 2
    mask = anchor_mask(*y.shape[-2:], y.device)
    y_g = y * g
    mu, sigma = params.chunk(2, 1)
    # pass 2: group 2's anchors from group 1's decoded anchors
    a1 = torch.where(mask, (torch.round(y_g - mu * g) + mu * g)[:, :m] / g[:, :m], 0)
    mu_a, sigma_a = probe["anchors"](a1, torch.cat([mu[:, m:], sigma[:, m:]], 1), level).chunk(2, 1)
    mu = torch.cat([mu[:, :m], mu_a], 1)
    sigma = torch.cat([sigma[:, :m], sigma_a], 1)
    s = y_g - mu * g
    anchors = torch.where(mask, (torch.round(s) + mu * g) / g, 0).detach()
    anchor_bits = (discrete_bits(rounded(s, noise), sigma * g) * mask).flatten(1).sum(1)
    mu2, sigma2 = ctx(anchors, params, level).chunk(2, 1)  # pass 3, and where pass 4 starts
    # pass 4: group 2's non-anchors also from all of group 1
    r1 = y_g[:, :m] - mu2[:, :m] * g[:, :m]
    g1 = torch.where(mask, anchors[:, :m], (torch.round(r1) + mu2[:, :m] * g[:, :m]) / g[:, :m]).detach()
    mu_n, sigma_n = probe["rest"](g1, torch.cat([mu2[:, m:], sigma2[:, m:]], 1), level).chunk(2, 1)
    mu2 = torch.cat([mu2[:, :m], mu_n], 1)
    sigma2 = torch.cat([sigma2[:, :m], sigma_n], 1)
    rest_bits = (discrete_bits(rounded(y_g - mu2 * g, noise), sigma2 * g) * ~mask).flatten(1).sum(1)
    return rest_bits + anchor_bits + z_bits


def reference_bits(base, ctx, y: Tensor, level: Tensor) -> Tensor:
    """The shipped checkerboard's total bits per sample (``aecodec.models.context.checkerboard_bits``)."""
    rest, _, anchors, z = checkerboard_bits(ctx, base, y, level)
    return rest + anchors + z


@torch.no_grad()
def total_bits(count, val: Tensor, levels: int) -> list[float]:
    """Bits of all validation latents at each level, counted by ``count(y, level)``."""
    out = []
    for lv in range(levels):
        level = torch.full((len(val),), lv, dtype=torch.long)
        out.append(count(val.float(), level).sum().item())
    return out


def validate(base, ctx, probe, val: Tensor, reference: list[float]) -> dict:
    probe.eval()
    new = total_bits(lambda y, level: bits(base, ctx, probe, y, level, False), val, len(reference))
    probe.train()
    per_level = [{"level": i + 1, "checkerboard_bits": r, "probe_bits": n, "saving": 1 - n / r}
                 for i, (r, n) in enumerate(zip(reference, new))]
    return {"mean_saving": sum(p["saving"] for p in per_level) / len(per_level), "levels": per_level}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, default=Path("runs/channel_probe"), help="folder of the latent cache")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    a.run.mkdir(parents=True, exist_ok=True)
    o = TrainOptions(codec="hyperprior-ctx", data="train", crop=256, patch=256, crops_per_image=2)
    train, val = frozen_latents(o, a.run, torch.device("cpu"))
    base = aecodec.get_codec("hyperprior").load().model.float().eval().requires_grad_(False)
    cfg, state = read_state(aecodec.get_codec("hyperprior-ctx").weights_path, "context")
    ctx = CheckerboardContext(ContextConfig.from_dict(cfg))
    ctx.load_state_dict(state)
    ctx.eval().requires_grad_(False)
    m, levels = base.config.M // 2, base.num_levels
    probe = nn.ModuleDict({"anchors": Correction(m, m, levels), "rest": Correction(m, m, levels)})
    opt = torch.optim.Adam(probe.parameters(), lr=a.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 100) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * s / a.steps))))
    gen = torch.Generator().manual_seed(0)
    history, t0 = [], time.time()
    reference = total_bits(lambda y, level: reference_bits(base, ctx, y, level), val, levels)
    start = validate(base, ctx, probe, val, reference)["mean_saving"]
    assert abs(start) < 1e-9, "a fresh probe must code exactly like the checkerboard"
    for step in range(1, a.steps + 1):
        idx = torch.randint(len(train), (a.batch,), generator=gen)
        level = torch.randint(levels, (a.batch,), generator=gen)
        y = train[idx].float()
        loss = bits(base, ctx, probe, y, level, True).mean() / (256 * y.shape[-1] * y.shape[-2])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(probe.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % a.val_every == 0 or step == a.steps:
            v = validate(base, ctx, probe, val, reference)
            history.append({"step": step, "seconds": round(time.time() - t0, 1), "train_bpp": loss.item(),
                            "val_mean_saving": v["mean_saving"]})
            print(json.dumps(history[-1]), flush=True)
    result = {"what": "float channel-conditional context (2 groups) on top of the shipped checkerboard, frozen "
                      "latents; saving = 1 - probe bits / checkerboard bits, z included, real rounding",
              "command": "python bench/channel_context_probe.py " + " ".join(
                  f"--{k.replace('_', '-')} {v}" for k, v in vars(a).items() if k not in ("out", "run")),
              "data": f"train: {len(train)} latent crops (256px, 2 per image, seed 0); validation {len(val)} crops",
              "history": history, "final": v}
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
