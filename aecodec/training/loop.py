"""The one training loop of every registered codec: ``aecodec train --codec NAME --data DIR --out DIR``
(or ``python -m aecodec.training.loop``, which ``scripts/gpu_train.sh`` runs on a GPU machine; both take the flags
``aecodec.training.flags`` builds).

Direct on purpose (nanoGPT style): one function, the loop's options (``TrainOptions``, in
``aecodec.training.options``) and the task's, a checkpoint that holds everything needed to continue exactly
(model, optimizers, step, RNG states, options, best validation). What differs between codecs (model, data,
batch, loss, validation, export, and the options for them) is a small task object of the codec's family
(``aecodec.training.tasks``). A run starts from the codec's shipped weights, from ``--init FILE`` or, with
``--fresh``, from scratch; it resumes from ``OUT/last.pt`` when present, keeps the best validated checkpoint in
``OUT/best.pt``, logs to ``OUT/log.csv``, and ends by exporting the best weights as ``OUT/<the codec's weights
file name>`` plus its provenance JSON, which records the ``aecodec train`` command that reproduces it. The JSON
beside each shipped weights file holds the command (and settings) that made it.
"""
from __future__ import annotations

import csv
import os
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from ..atomic import write_atomic
from ..errors import AecError
from ..optim import EarlyStopping, WeightEMA, cosine_lr
from .flags import command_line, from_flags, train_command
from .options import TaskOptions, TrainOptions
from .tasks import Task, make_task


def lr_at(step: int, o: TrainOptions) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_ratio * lr``."""
    return cosine_lr(step, o.lr, o.warmup, o.steps, o.min_lr_ratio)


class Ranks:
    """Data parallelism under ``torchrun``: each rank trains on its own batches, gradients are averaged
    (DDP for the transforms, by hand for the bottleneck quantiles), rank 0 validates, logs, checkpoints and
    exports. A single process is the world of one, and every method is then a no-op."""

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


@dataclass
class RunState:
    """What a run carries besides weights and optimizers: progress, best and latest validation, time spent."""

    step: int = 0
    best: float = float("inf")
    stale: int = 0
    best_val: dict | None = None  # validation metrics (and step) of best.pt
    last_val: dict | None = None
    cpu_seconds: float = 0.0
    seconds: float = 0.0


def save_checkpoint(path: Path, task: Task, model, opt, aux_opt, gen: torch.Generator, o: TrainOptions,
                    state: RunState, ema: WeightEMA | None = None) -> None:
    state_dict = {"model": model.state_dict(), "config": task.config(model), "opt": opt.state_dict(),
                "aux_opt": aux_opt.state_dict() if aux_opt else None, "rng": gen.get_state(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "options": asdict(o), "task_options": asdict(task.options),
                "ema": ema.state_dict() if ema else None, "step": state.step, "best_val": state.best,
                "stale": state.stale, "state": asdict(state)}
    write_atomic(path, lambda f: torch.save(state_dict, f))


def export(task: Task, o: TrainOptions, out: Path, state: RunState) -> Path:
    """The run's best checkpoint (the last one when none was validated) -> ``out/<weights name>`` and its
    provenance JSON."""
    src = out / "best.pt" if (out / "best.pt").exists() else out / "last.pt"
    ck = torch.load(src, map_location="cpu", weights_only=False)
    model = task.build(ck["config"])
    model.load_state_dict(ck["model"])
    provenance = {
        "codec": o.codec, "weights": task.weights_name, "command": command_line(o, task.options, state.step),
        "init": task.init_description(), "data": task.data_description(), "config": ck["config"],
        "steps": state.step, "exported": {"checkpoint": src.name, "step": ck["step"]},
        "validation": {"best": state.best_val, "final": state.last_val},
        "cpu_seconds": round(state.cpu_seconds, 3), "seconds": round(state.seconds, 1),
        "hardware": f"{o.device}, PyTorch {torch.__version__}, {o.threads or torch.get_num_threads()} threads",
    }
    return task.export(model, out / task.weights_name, provenance)


def train(o: TrainOptions, options: TaskOptions | None = None) -> Path:
    """Train (or resume from ``out/last.pt``), then export; returns the path of the exported weights file, or of
    ``out/last.pt`` when ``time_limit`` interrupted the run (the same call continues it). ``options``: those of
    the codec's task (``None``: its defaults). Under torchrun each rank draws its own batches (seeded by rank);
    exact resume holds for single-process runs."""
    o = replace(o, out=o.out or f"runs/{o.codec}")
    out = Path(o.out)
    if o.threads:
        torch.set_num_threads(o.threads)
    ranks = Ranks(torch.device(o.device))
    dev = ranks.device
    task = make_task(o, options, dev)
    o = task.o  # with the codec's data filled in
    if ranks.world > 1 and not task.parallel:
        raise AecError(f"--codec {o.codec} trains in one process, not under torchrun")
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    out.mkdir(parents=True, exist_ok=True)
    cpu0, t0 = time.process_time(), time.time()
    last = out / "last.pt"
    ckpt = torch.load(last, map_location="cpu", weights_only=False) if last.exists() else None
    if ckpt:  # the schedule belongs to the run: keep its total steps
        o.steps = ckpt["options"]["steps"]
        o.auto_steps_seconds = 0.0
    task.prepare(out)
    torch.manual_seed(o.seed)
    model = task.build(ckpt["config"] if ckpt else None).to(dev)
    main_params = [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]
    aux_params = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    opt = torch.optim.Adam(main_params, lr=o.lr)
    aux_opt = torch.optim.Adam(aux_params, lr=o.aux_lr) if aux_params else None
    gen = torch.Generator().manual_seed(o.seed)
    ema = WeightEMA(model, o.ema) if o.ema else None
    state = RunState()
    if ckpt:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["opt"])
        if aux_opt:
            aux_opt.load_state_dict(ckpt["aux_opt"])
        gen.set_state(ckpt["rng"])
        if ema and ckpt.get("ema"):
            ema.load_state_dict(ckpt["ema"])
        torch.set_rng_state(ckpt["torch_rng"])  # noise for rounding draws from the global generator
        if ckpt["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(ckpt["cuda_rng"])
        state = RunState(**ckpt["state"])
    cpu_before, seconds_before = state.cpu_seconds, state.seconds
    if ranks.world > 1:  # different batches and noise per rank
        gen.manual_seed(o.seed * 1000 + ranks.rank + state.step)
        torch.manual_seed(o.seed * 1000 + ranks.rank + state.step)
    # the quantiles learn from the aux loss outside the DDP forward: DDP leaves them alone, Ranks averages them
    model._ddp_params_and_buffers_to_ignore = [n for n, _ in model.named_parameters() if n.endswith(".quantiles")]
    net = DistributedDataParallel(model, find_unused_parameters=True) if ranks.world > 1 else model
    if o.compile:  # the compiled wrapper shares the module's parameters: checkpoints and EMA see the same weights
        net = torch.compile(net)
    header = ["step", "seconds", "lr", "loss", *task.columns, "aux", "val_loss", *task.val_columns, "ema_val_loss"]
    log_path = out / "log.csv"
    new_log = not log_path.exists()
    log = open(log_path, "a", newline="") if ranks.master else open(os.devnull, "w")
    writer = csv.DictWriter(log, header)
    if new_log:
        writer.writeheader()

    def checkpoint(path: Path) -> None:
        state.cpu_seconds = cpu_before + time.process_time() - cpu0
        state.seconds = seconds_before + time.time() - t0
        save_checkpoint(path, task, model, opt, aux_opt, gen, o, state, ema)

    t_run = time.time()
    amp = torch.autocast("cuda", dtype=torch.bfloat16, enabled=o.amp and dev.type == "cuda")
    end = min(o.steps, o.stop_at or o.steps)
    bar = tqdm(total=end, initial=state.step, dynamic_ncols=True, mininterval=2, disable=not ranks.master)
    skipped, interrupted = 0, False
    while state.step < end:
        step = state.step
        if o.auto_steps_seconds and step == 50:
            t_probe = time.time()
        if o.auto_steps_seconds and step == 150:
            rate = 100 / (time.time() - t_probe)
            o.steps = ranks.from_master(max(step + 1, int(rate * o.auto_steps_seconds)))
            o.auto_steps_seconds = 0.0
            end = min(o.steps, o.stop_at or o.steps)
            bar.total = end
            bar.write(f"measured {rate:.2f} steps/s: schedule set to {o.steps} steps")
        for g in opt.param_groups:
            g["lr"] = lr_at(step, o)
        loss, metrics = task.loss(net, model, task.batch(model, gen), amp)
        opt.zero_grad(set_to_none=True)
        if aux_opt:
            aux_opt.zero_grad(set_to_none=True)
        if ranks.any(not torch.isfinite(loss)):
            skipped += 1  # a non-finite batch is dropped, never applied
            if skipped > 50:
                raise RuntimeError("training diverged: 50 non-finite losses")
            state.step += 1
            continue
        loss.backward()
        torch.nn.utils.clip_grad_norm_(main_params, o.clip)
        opt.step()
        aux = None
        if aux_opt:
            aux = model.aux_loss()
            aux.backward()
            ranks.average_grads(aux_params)
            aux_opt.step()
        if ema:
            ema.update(model)
        state.step = step = step + 1
        bar.update(1)
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}", **{k: f"{v.item():.4f}" for k, v in metrics.items()})
        row = {}
        interrupted = stop = ranks.any(o.time_limit and time.time() - t_run > o.time_limit)
        validate = ranks.master and (step % o.val_every == 0 or step == end or stop)
        if step % 100 == 0 or validate:
            row = {"step": step, "seconds": round(time.time() - t_run, 1), "lr": lr_at(step, o),
                   "loss": loss.item(), "aux": aux.item() if aux is not None else "",
                   **{k: v.item() for k, v in metrics.items()}}
        if validate:
            v = task.validate(model)
            row.update(v)
            bar.write(f"step {step}: " + " ".join(f"{k} {x:.4f}" for k, x in v.items()))
            if ema:  # the averaged weights are the ones a run ships: they decide the best checkpoint
                with ema.applied(model):
                    v = task.validate(model)
                row["ema_val_loss"] = v["val_loss"]
                bar.write(f"step {step}: EMA val loss {v['val_loss']:.4f}")
            state.last_val = {**v, "step": step}
            stopper = EarlyStopping(o.patience, state.best, state.stale)
            improved = stopper.update(v["val_loss"])
            state.best, state.stale = stopper.best, stopper.stale
            if improved:
                state.best_val = state.last_val
                with ema.applied(model) if ema else nullcontext():
                    checkpoint(out / "best.pt")
            if stopper.stop:
                bar.write(f"early stop: no validation improvement in {state.stale} checks")
                stop = True
        stop = ranks.any(stop)
        if row:
            writer.writerow(row)
            log.flush()
        if ranks.master and (step % o.ckpt_every == 0 or step == end or stop):
            checkpoint(last)
        if stop:
            break
    bar.close()
    log.close()
    ranks.close()
    if ranks.master:
        checkpoint(last)
    if interrupted or not ranks.master:  # an interrupted run continues with the same command
        return last
    return export(task, o, out, state)


def main(argv: list[str] | None = None) -> None:
    """``python -m aecodec.training.loop [flags]``: the flags of ``aecodec train``, errors as one line."""
    def run(values: dict[str, Any]) -> None:
        try:
            print(train(*from_flags(values)))
        except AecError as e:
            raise SystemExit(f"error: {e}") from None

    train_command(run, help=__doc__).main(argv, prog_name="python -m aecodec.training.loop")


if __name__ == "__main__":
    main()
