"""Train the checkerboard context model (``aecodec.models.context``) of the shipped hyperprior, from frozen latents.

    python scripts/train_context.py latents --out runs/ctx            # 1. latents of training crops (~10 min)
    python scripts/train_context.py train --out runs/ctx --steps 6000  # 2. train (resumes from runs/ctx/last.pt)
    python scripts/train_context.py export --out runs/ctx              # 3. best.pt -> aecodec/weights/

The base model is frozen, so its analysis runs once per crop (stage 1) and training touches only 16x16-latent
tensors: a step costs a few hundredths of a step of the full model. The loss is the rate of the latents the
context model predicts (the non-anchors), with uniform noise standing in for rounding; validation measures the
real rounded rate of every latent and the hyper-latent on held-out crops, all levels, against the hyperprior
alone. Kodak is never used.
"""
import argparse
import json
import math
import time
from pathlib import Path

import torch

from aecodec.training.data import random_crops, resolve_images, split
from aecodec.models.context import CheckerboardContext, ContextConfig, checkerboard_bits
from aecodec.training.optim import cosine_lr
from aecodec.registry import get_codec
from aecodec.codecs.weights import export_context

ROOT = Path(__file__).resolve().parent.parent


def base_model():
    return get_codec("hyperprior").load().model.float().eval().requires_grad_(False)


@torch.no_grad()
def latents(args) -> None:
    train, val = split(resolve_images(args.data))
    base = base_model()
    out = {}
    for name, paths, per, seed in (("train", train, args.crops_per_image, 0), ("val", val, 2, 100)):
        crops = random_crops(paths, 256, per, seed)
        ys = []
        t0 = time.time()
        for i in range(0, len(crops), 16):
            x = crops[i:i + 16].permute(0, 3, 1, 2).float().div(255)
            ys.append(base.analysis(x).half())
        out[name] = torch.cat(ys)
        print(f"{name}: {len(crops)} crops -> {tuple(out[name].shape)} in {time.time() - t0:.0f} s")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    torch.save({"train": out["train"], "val": out["val"]}, Path(args.out) / "latents.pt")


@torch.no_grad()
def validate(ctx, base, val: torch.Tensor) -> dict:
    """Real (rounded) bits over all levels: total with the context model vs the hyperprior alone."""
    ctx.eval()
    with_ctx = hyper_only = 0.0
    per_level = []
    for lvl in range(base.num_levels):
        a = b = 0.0
        for i in range(0, len(val), 32):
            y = val[i:i + 32].float()
            level = torch.full((len(y),), lvl, dtype=torch.long)
            c, h, anc, z = checkerboard_bits(ctx, base, y, level, noise="")
            a += (c + anc + z).sum().item()
            b += (h + anc + z).sum().item()
        per_level.append(a / b - 1)
        with_ctx, hyper_only = with_ctx + a, hyper_only + b
    ctx.train()
    px = len(val) * 256 * 256 * base.num_levels
    return {"val_bpp": with_ctx / px, "hyper_bpp": hyper_only / px,
            "saving": 1 - with_ctx / hyper_only, "per_level": [round(v, 5) for v in per_level]}


def train(args) -> None:
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    data = torch.load(out / "latents.pt")
    tr, val = data["train"], data["val"]
    base = base_model()
    cfg = ContextConfig(M=base.config.M, levels=base.num_levels, width=args.width, hidden=args.hidden)
    ctx = CheckerboardContext(cfg)
    opt = torch.optim.Adam(ctx.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    step, best, log = 0, math.inf, []
    if (out / "last.pt").exists():
        ck = torch.load(out / "last.pt", weights_only=False)
        ctx.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        gen.set_state(ck["rng"])
        torch.set_rng_state(ck["torch_rng"])
        step, best, log = ck["step"], ck["best"], ck["log"]
        print(f"resumed at step {step}")
    t0, cpu0 = time.time(), time.process_time()
    while step < args.steps:
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, args.lr, args.warmup, args.steps, 0.03)
        idx = torch.randint(len(tr), (args.batch,), generator=gen)
        level = torch.randint(base.num_levels, (args.batch,), generator=gen)
        c, h, _, _ = checkerboard_bits(ctx, base, tr[idx].float(), level, noise=args.rate)
        loss = c.mean() / (256 * 256)  # bpp of the non-anchors
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ctx.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 50 == 0:
            print(f"step {step} loss {loss.item():.4f} hyper {h.mean().item() / 65536:.4f} "
                  f"{(time.time() - t0) / 50:.2f} s/step", flush=True)
            t0 = time.time()
        if step % args.val_every == 0 or step == args.steps:
            v = validate(ctx, base, val)
            v.update(step=step, cpu_hours=round((time.process_time() - cpu0) / 3600, 3))
            log.append(v)
            print(json.dumps(v), flush=True)
            if v["val_bpp"] < best:
                best = v["val_bpp"]
                torch.save({"model": ctx.state_dict(), "config": cfg.to_dict(), "val": v}, out / "best.pt")
            torch.save({"model": ctx.state_dict(), "opt": opt.state_dict(), "rng": gen.get_state(),
                        "torch_rng": torch.get_rng_state(), "step": step, "best": best, "log": log,
                        "config": cfg.to_dict()}, out / "last.tmp")
            (out / "last.tmp").replace(out / "last.pt")
            (out / "log.json").write_text(json.dumps(log, indent=1) + "\n")


def export(args) -> None:
    """best.pt -> aecodec/weights/hyperprior_ctx.safetensors and the training record for its provenance."""
    out = Path(args.out)
    best = torch.load(out / "best.pt", weights_only=False)
    log = json.loads((out / "log.json").read_text())
    ctx = CheckerboardContext(ContextConfig.from_dict(best["config"]))
    ctx.load_state_dict(best["model"])
    info = get_codec("hyperprior-ctx")
    export_context(ctx, info.weights_path)
    record = {
        "data": "datasets.toml 'train' minus its 3% validation split: 4 random 256x256 crops per image (images "
                "with short side >= 512 halved first), analysed once by the frozen shipped hyperprior; validation: "
                "the split's images x 2 crops. Kodak never used.",
        "base": "hyperprior.safetensors (frozen: transforms, hyper-latent and its tables unchanged)",
        "hardware": "2-core CPU (this machine), PyTorch 2.14",
        "config": best["config"],
        "optimizer": f"Adam {args.lr}, {args.warmup} warm-up steps, cosine to 3%, clip 1.0, batch {args.batch}, "
                     "loss: non-anchor bits with uniform noise, all 10 levels at random",
        "steps": log[-1]["step"], "cpu_hours": log[-1]["cpu_hours"], "best": best["val"], "log": log,
        "command": f"python scripts/train_context.py latents --out {args.out} && python scripts/train_context.py "
                   f"train --out {args.out} --steps {args.steps} --batch {args.batch} --lr {args.lr}",
    }
    (ROOT / "scripts" / "hyperprior_ctx_training.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {info.weights_path}: validation bits {best['val']['saving']:.2%} below the hyperprior's")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=["latents", "train", "export"])
    p.add_argument("--out", default="runs/ctx")
    p.add_argument("--data", default="train")
    p.add_argument("--crops-per-image", type=int, default=4)
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--width", type=int, default=192)
    p.add_argument("--hidden", type=int, default=384)
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rate", choices=["noise", "round"], default="noise",
                   help="training rate of the non-anchors: uniform noise, or rounding with straight-through means")
    args = p.parse_args()
    {"latents": latents, "train": train, "export": export}[args.stage](args)


if __name__ == "__main__":
    main()
