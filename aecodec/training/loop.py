"""The rate-distortion training loop of the variable-rate hyperprior (and of the vqvae codec's codebooks and
priors, ``--codec vqvae``).

Direct on purpose (nanoGPT style): one function, a dataclass of options, a checkpoint that holds everything
needed to continue exactly (model, both optimizers, step, RNG state, options). Each step draws a random quality
level per sample, so one network learns every rate.
"""
from __future__ import annotations

import argparse
import csv
import os
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import load_file
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from .data import load_pack, random_crops, resolve_images, sample_batch, split
from .losses import psnr_from_mse, rd_loss
from .optim import EarlyStopping, WeightEMA, cosine_lr
from ..models.hyperprior import Hyperprior, HyperpriorConfig
from .vqvae import VQConfig, VQVAE
from ..registry import get_codec


@dataclass
class TrainOptions:
    out: str = "runs/hyperprior"
    data: str = "train"  # dataset name/folder, or a .npz pack
    N: int = 128
    M: int = 256
    lambdas: str = ""  # comma-separated quality levels' lambdas; empty = the model's default
    steps: int = 100_000  # total steps of the schedule
    auto_steps_seconds: float = 0.0  # >0: measure speed, set ``steps`` to fill this many seconds
    time_limit: float = 0.0  # >0: stop (and checkpoint) after this many seconds of this process
    batch: int = 8
    patch: int = 256
    lr: float = 1e-4
    min_lr_ratio: float = 0.02
    warmup: int = 500
    clip: float = 1.0
    aux_lr: float = 1e-3
    seed: int = 0
    device: str = "cpu"
    metric: str = "mse"  # distortion: mse or ms-ssim (then lambdas are MS-SSIM lambdas, e.g. 2.4..60.5)
    amp: bool = False  # bf16 autocast for the transforms (entropy models stay fp32); CUDA only
    grad_checkpointing: bool = False  # recompute transform activations in backward: less memory
    aux_transform: bool = False  # a fresh model gets linear wavelet shortcuts (aecodec.models.auxt)
    compile: bool = False  # torch.compile the training forward (CPU: 0.87x the seconds per step, bench/train_speed.py)
    patience: int = 0  # >0: stop after this many validations without improvement (early stopping)
    val_every: int = 1000
    ckpt_every: int = 1000
    threads: int = 0
    init: str = ""  # warm start from a checkpoint (.pt) or a shipped weights file (.safetensors)
    codec: str = "hyperprior"  # or "vqvae": its codebooks and index priors (CPU; --init a vqvae weights file)
    ema: float = 0.0  # >0: also validate an EMA of the weights (e.g. 0.999); best.pt then holds the EMA weights
    crops_per_image: int = 1  # random 256+ crops drawn per training image (folder data; more = more variety)


def lr_at(step: int, o: TrainOptions) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_ratio * lr``."""
    return cosine_lr(step, o.lr, o.warmup, o.steps, o.min_lr_ratio)


def load_data(o: TrainOptions) -> tuple[torch.Tensor, torch.Tensor]:
    if o.data.endswith(".npz"):
        return load_pack(Path(o.data))
    train, val = split(resolve_images(o.data))
    val = val or train[:1]  # a tiny folder has no validation split of its own
    return (random_crops(train, max(o.patch, 256), o.crops_per_image, o.seed),
            random_crops(val, max(o.patch, 256), 2, 100))


@torch.no_grad()
def validate(model: nn.Module, val: torch.Tensor, o: TrainOptions) -> dict[str, float]:
    """Mean RD loss over all levels on the fixed validation crops, with real rounding (eval mode)."""
    model.eval()
    dev = torch.device(o.device)
    x = val.permute(0, 3, 1, 2).float().div(255).to(dev)
    lam = torch.tensor(model.config.lambdas, device=dev)
    losses, bpps, psnrs = [], [], []
    for lvl in range(model.num_levels):
        for i in range(0, len(x), 16):
            xb = x[i:i + 16]
            level = torch.full((len(xb),), lvl, device=dev, dtype=torch.long)
            r = rd_loss(xb, model(xb, level), lam[level], o.metric)
            losses.append(r.loss.item() * len(xb))
            bpps.append(r.bpp.sum().item())
            psnrs.append(psnr_from_mse(r.mse).sum().item())
    model.train()
    n = len(x) * model.num_levels
    return {"val_loss": sum(losses) / n, "val_bpp": sum(bpps) / n, "val_psnr": sum(psnrs) / n}


def save_checkpoint(path: Path, model, opt, aux_opt, step: int, gen: torch.Generator, o: TrainOptions,
                    best: float, stale: int = 0, ema: WeightEMA | None = None) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "config": model.config.to_dict(), "opt": opt.state_dict(),
                "aux_opt": aux_opt.state_dict() if aux_opt else None, "step": step, "rng": gen.get_state(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "options": asdict(o), "best_val": best, "stale": stale,
                "ema": ema.state_dict() if ema else None}, tmp)
    tmp.replace(path)


class Ranks:
    """Data parallelism under ``torchrun``: each rank trains on its own batches, gradients are averaged
    (DDP for the transforms, by hand for the bottleneck quantiles), rank 0 validates, logs and checkpoints.
    A single process is the world of one, and every method is then a no-op."""

    def __init__(self, device: torch.device):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.device = device
        if self.world > 1:
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
            if device.type == "cuda":
                self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
                torch.cuda.set_device(self.device)

    @property
    def master(self) -> bool:
        return self.rank == 0

    def any(self, flag: bool) -> bool:
        """True on every rank when true on any (stop and skip decisions must agree, or DDP hangs)."""
        if self.world == 1:
            return bool(flag)
        t = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def from_master(self, value: int) -> int:
        if self.world == 1:
            return value
        t = torch.tensor([value], device=self.device)
        dist.broadcast(t, 0)
        return int(t.item())

    def average_grads(self, params: list) -> None:
        if self.world == 1:
            return
        for p in params:
            if p.grad is not None:
                dist.all_reduce(p.grad)
                p.grad /= self.world

    def close(self) -> None:
        if self.world > 1:
            dist.destroy_process_group()


def build_model(o: TrainOptions, ckpt: dict | None) -> nn.Module:
    """The network a run trains: the hyperprior (fresh or warm-started from ``--init``) or the vqvae codebooks
    and priors on the shipped hyperprior; a resumed run gets its weights from ``ckpt`` afterwards."""
    if o.codec == "vqvae":
        if o.device != "cpu":
            raise ValueError("vqvae trains on the CPU (its classes come from the integer hyper-synthesis)")
        hp = get_codec("hyperprior").load()
        for p in hp.model.parameters():
            p.requires_grad_(False)
        if ckpt:
            c = VQConfig.from_dict(ckpt["config"])
            return VQVAE(hp, c.levels, c.sizes)
        if not o.init.endswith(".safetensors"):
            raise ValueError("--codec vqvae needs --init, a vqvae weights file (e.g. from scripts/train_vq.py)")
        return VQVAE.from_codec(get_codec("vqvae").load("cpu", o.init))
    if o.codec != "hyperprior":
        raise ValueError(f"unknown codec {o.codec!r} to train (hyperprior, vqvae)")
    lambdas = tuple(float(v) for v in o.lambdas.split(",")) if o.lambdas else HyperpriorConfig().lambdas
    config = HyperpriorConfig(N=o.N, M=o.M, lambdas=lambdas, aux_transform=o.aux_transform)
    model = Hyperprior(HyperpriorConfig.from_dict(ckpt["config"]) if ckpt else config)
    model.grad_checkpointing = o.grad_checkpointing
    if o.init and not ckpt:
        if o.init.endswith(".safetensors"):  # a shipped weights file
            init = {k: v for k, v in load_file(o.init).items() if not k.startswith(("fixed.", "table."))}
        else:
            init = torch.load(o.init, map_location="cpu", weights_only=False)["model"]
        missing, _ = model.load_state_dict({k: v.float() for k, v in init.items()}, strict=False)
        if {k for k, _ in model.named_parameters()}.intersection(missing):  # buffers are constants
            raise ValueError(f"--init {o.init} lacks parameters: {missing}")
    return model


def train(o: TrainOptions) -> Path:
    """Train (or resume from ``out/last.pt``); returns the path of the best checkpoint. Under torchrun each
    rank draws its own batches (seeded by rank); exact resume holds for single-process runs."""
    out = Path(o.out)
    out.mkdir(parents=True, exist_ok=True)
    if o.threads:
        torch.set_num_threads(o.threads)
    ranks = Ranks(torch.device(o.device))
    dev = ranks.device
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    last = out / "last.pt"
    ckpt = torch.load(last, map_location="cpu", weights_only=False) if last.exists() else None
    if ckpt:  # the schedule belongs to the run: keep its total steps
        o.steps = ckpt["options"]["steps"]
        o.auto_steps_seconds = 0.0
    torch.manual_seed(o.seed)
    model = build_model(o, ckpt).to(dev)
    main_params = [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]
    aux_params = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    opt = torch.optim.Adam(main_params, lr=o.lr)
    aux_opt = torch.optim.Adam(aux_params, lr=o.aux_lr) if aux_params else None  # vqvae: no bottleneck
    gen = torch.Generator().manual_seed(o.seed)
    ema = WeightEMA(model, o.ema) if o.ema else None
    step, best, stale = 0, float("inf"), 0
    if ckpt:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["opt"])
        if aux_opt:
            aux_opt.load_state_dict(ckpt["aux_opt"])
        gen.set_state(ckpt["rng"])
        if ema and ckpt.get("ema"):
            ema.load_state_dict(ckpt["ema"])
        torch.set_rng_state(ckpt["torch_rng"])  # the quantization noise draws from the global generator
        if ckpt["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(ckpt["cuda_rng"])
        step, best, stale = ckpt["step"], ckpt["best_val"], ckpt.get("stale", 0)
    if ranks.world > 1:  # different batches and noise per rank
        gen.manual_seed(o.seed * 1000 + ranks.rank + step)
        torch.manual_seed(o.seed * 1000 + ranks.rank + step)
    # the quantiles learn from the aux loss outside the DDP forward: DDP leaves them alone, Ranks averages them
    model._ddp_params_and_buffers_to_ignore = [n for n, _ in model.named_parameters() if n.endswith(".quantiles")]
    net = DistributedDataParallel(model, find_unused_parameters=True) if ranks.world > 1 else model
    if o.compile:  # the compiled wrapper shares the module's parameters: checkpoints and EMA see the same weights
        net = torch.compile(net)
    train_crops, val_crops = load_data(o)
    train_crops = train_crops.to(dev)
    lam = torch.tensor(model.config.lambdas, device=dev)
    log_path = out / "log.csv"
    new_log = not log_path.exists()
    log = open(log_path, "a", newline="") if ranks.master else open(os.devnull, "w")
    writer = csv.writer(log)
    if new_log and ranks.master:
        writer.writerow(["step", "seconds", "lr", "loss", "bpp", "psnr", "aux", "val_loss", "val_bpp", "val_psnr",
                         "ema_val_loss"])
    t0 = time.time()
    amp = torch.autocast("cuda", dtype=torch.bfloat16, enabled=o.amp and dev.type == "cuda")
    bar = tqdm(total=o.steps, initial=step, dynamic_ncols=True, mininterval=2, disable=not ranks.master)
    skipped = 0
    while step < o.steps:
        if o.auto_steps_seconds and step == 50:
            t_probe = time.time()
        if o.auto_steps_seconds and step == 150:
            rate = 100 / (time.time() - t_probe)
            o.steps = ranks.from_master(max(step + 1, int(rate * o.auto_steps_seconds)))
            o.auto_steps_seconds = 0.0
            bar.total = o.steps
            bar.write(f"measured {rate:.2f} steps/s: schedule set to {o.steps} steps")
        for g in opt.param_groups:
            g["lr"] = lr_at(step, o)
        x = sample_batch(train_crops, o.batch, o.patch, gen).to(dev, non_blocking=True)
        level = torch.randint(model.num_levels, (o.batch,), generator=gen).to(dev)
        with amp:
            out_ = net(x, level)
        r = rd_loss(x, out_, lam[level], o.metric)
        opt.zero_grad(set_to_none=True)
        if aux_opt:
            aux_opt.zero_grad(set_to_none=True)
        if ranks.any(not torch.isfinite(r.loss)):
            skipped += 1  # a non-finite batch is dropped, never applied
            if skipped > 50:
                raise RuntimeError("training diverged: 50 non-finite losses")
            step += 1
            continue
        r.loss.backward()
        torch.nn.utils.clip_grad_norm_(main_params, o.clip)
        opt.step()
        aux = model.aux_loss()
        if aux_params:
            aux.backward()
            ranks.average_grads(aux_params)
            aux_opt.step()
        if ema:
            ema.update(model)
        step += 1
        bar.update(1)
        psnr = psnr_from_mse(r.mse.mean()).item()
        if step % 20 == 0:
            bar.set_postfix(loss=f"{r.loss.item():.3f}", bpp=f"{r.bpp.mean().item():.3f}", psnr=f"{psnr:.2f}")
        row = None
        if step % 100 == 0:
            row = [step, round(time.time() - t0, 1), lr_at(step, o), r.loss.item(), r.bpp.mean().item(), psnr,
                   aux.item(), "", "", "", ""]
        stop = ranks.any(o.time_limit and time.time() - t0 > o.time_limit)
        if ranks.master and (step % o.val_every == 0 or step == o.steps or stop):
            v = validate(model, val_crops, o)
            row = row or [step, round(time.time() - t0, 1), lr_at(step, o), r.loss.item(), r.bpp.mean().item(),
                          psnr, aux.item(), "", "", "", ""]
            row[-4:-1] = [v["val_loss"], v["val_bpp"], v["val_psnr"]]
            bar.write(f"step {step}: val loss {v['val_loss']:.4f} bpp {v['val_bpp']:.3f} psnr {v['val_psnr']:.2f}")
            score = v["val_loss"]
            if ema:  # the averaged weights are the ones a run ships: they decide the best checkpoint
                with ema.applied(model):
                    score = row[-1] = validate(model, val_crops, o)["val_loss"]
                bar.write(f"step {step}: EMA val loss {score:.4f}")
            stopper = EarlyStopping(o.patience, best, stale)
            if stopper.update(score):
                with ema.applied(model) if ema else nullcontext():
                    save_checkpoint(out / "best.pt", model, opt, aux_opt, step, gen, o, stopper.best, ema=ema)
            best, stale = stopper.best, stopper.stale
            if stopper.stop:
                bar.write(f"early stop: no validation improvement in {stale} checks")
                stop = True
        stop = ranks.any(stop)
        if row:
            writer.writerow(row)
            log.flush()
        if ranks.master and (step % o.ckpt_every == 0 or step == o.steps or stop):
            save_checkpoint(last, model, opt, aux_opt, step, gen, o, best, stale, ema)
        if stop:
            break
    if ranks.master:
        save_checkpoint(last, model, opt, aux_opt, step, gen, o, best, stale, ema)
    bar.close()
    log.close()
    ranks.close()
    return out / "best.pt"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    for f in fields(TrainOptions):
        kind = f.type if isinstance(f.type, type) else eval(f.type)  # noqa: S307 (annotations are strings)
        if kind is bool:
            p.add_argument(f"--{f.name.replace('_', '-')}", action="store_true")
        else:
            p.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=f.default)
    train(TrainOptions(**vars(p.parse_args(argv))))


if __name__ == "__main__":
    main()
