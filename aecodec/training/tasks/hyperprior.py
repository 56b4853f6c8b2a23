"""The variable-rate hyperprior's task: its transforms and entropy models, RD loss (MSE, or MS-SSIM for the
``hyperprior-msssim`` variant) on image crops."""
from __future__ import annotations

import math
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ...errors import AecError, ModelMismatchError
from ...eval.metrics import db_from_mse
from ...models.hyperprior import Hyperprior, HyperpriorConfig
from ..batches import as_float, sample_batch
from ..losses import rd_loss
from ..options import TaskOptions, option
from .base import Task
from .codec_layer import export_hyperprior
from .common import crops, parse_lambdas, read_state

MSSSIM_CODEC = "hyperprior-msssim"  # the variant that defaults to the MS-SSIM metric and lambdas
# the shipped hyperprior-msssim's lambdas (CompressAI's MS-SSIM range, extended to 10 levels)
MSSSIM_LAMBDAS = (0.63, 1.23, 2.40, 4.58, 8.73, 16.64, 31.73, 60.50, 115.37, 220.0)
PER_LEVEL = ("log_gain", "log_inv_gain", "log_hyper_gain", "log_inv_hyper_gain")


def metric_option() -> Any:
    """The ``--metric`` field, for every task whose loss is an RD loss on images."""
    return option("", "distortion: mse or ms-ssim; '' = the codec's (hyperprior-msssim: ms-ssim, else mse)")


@dataclass
class HyperpriorOptions(TaskOptions):
    N: int = option(128, "fresh hyperprior: channels of the transforms", shape=True)
    M: int = option(256, "fresh hyperprior: latent channels", shape=True)
    lambdas: str = option("", "hyperprior: comma-separated lambdas of the quality levels; '' = the codec's (a warm "
                              "start's: its own, new ones interpolated)")
    metric: str = metric_option()
    grad_checkpointing: bool = option(False, "recompute transform activations in backward: less memory")


def relevel(state: dict[str, Tensor], old: tuple[float, ...], new: tuple[float, ...]) -> dict[str, Tensor]:
    """A hyperprior's per-level parameters, trained for lambdas ``old``, for lambdas ``new``. With as many levels,
    level i stays level i (fine-tuning for another metric relabels the rates). Otherwise every old lambda must be
    among the new ones and keeps its gains; each new level's log-gains are interpolated (or extrapolated) per
    channel, linearly in log lambda, through the two trained levels nearest to it."""
    if len(old) == len(new):
        return state
    if not set(old) <= set(new):
        raise AecError(f"--lambdas {','.join(map(str, new))} must keep the {len(old)} lambdas of the initial "
                       f"weights ({','.join(map(str, old))}) to add levels to them (or train a new model: --fresh)")
    log_old = torch.tensor(old, dtype=torch.float64).log()
    out = dict(state)
    for name in PER_LEVEL:
        rows = state[name].double()
        new_rows = []
        for lam in new:
            if lam in old:
                new_rows.append(rows[old.index(lam)])
                continue
            a, b = sorted((log_old - math.log(lam)).abs().argsort()[:2].tolist())
            t = (math.log(lam) - log_old[a]) / (log_old[b] - log_old[a])
            new_rows.append(rows[a] + t * (rows[b] - rows[a]))
        out[name] = torch.stack(new_rows).to(state[name].dtype)
    return out


class HyperpriorTask(Task):
    """The variable-rate hyperprior (``hyperprior``; ``hyperprior-msssim`` defaults to the MS-SSIM metric and
    lambdas). Each sample of a batch draws its own quality level, so one network learns every rate."""

    family = "hyperprior"
    Options = HyperpriorOptions
    options: HyperpriorOptions
    columns = ("bpp", "psnr")
    val_columns = ("val_bpp", "val_psnr")
    parallel = True

    def resolve(self, options: HyperpriorOptions) -> HyperpriorOptions:
        """The metric left to the codec: MS-SSIM for the MS-SSIM variant, else MSE."""
        return replace(options, metric=options.metric or ("ms-ssim" if self.o.codec == MSSSIM_CODEC else "mse"))

    def prepare(self, out: Path) -> None:
        train, self.val = crops(self.o)
        self.train = train.to(self.device)

    def data_description(self) -> str:
        o = self.o
        if o.data.endswith(".npz"):
            return f"pack {o.data}: {len(self.train)} training and {len(self.val)} validation crops"
        return (f"{o.data}: {len(self.train)} random {self.train.shape[1]}px crops of its training split "
                f"({o.crops_per_image} per image, seed {o.seed}); validation: {len(self.val)} crops of its "
                "validation split (2 per image, seed 100)")

    def build(self, config: dict | None) -> nn.Module:
        t = self.options
        if config:
            model = Hyperprior(HyperpriorConfig.from_dict(config))
        elif self.o.fresh:
            default = MSSSIM_LAMBDAS if self.o.codec == MSSSIM_CODEC else HyperpriorConfig().lambdas
            model = Hyperprior(HyperpriorConfig(N=t.N, M=t.M, lambdas=parse_lambdas(t.lambdas) or default))
        else:
            d, state = read_state(self.init_path, self.family)
            init = HyperpriorConfig.from_dict(d)
            lambdas = parse_lambdas(t.lambdas) or init.lambdas
            model = Hyperprior(replace(init, lambdas=lambdas))
            missing, _ = model.load_state_dict(relevel(state, init.lambdas, lambdas), strict=False)
            if {k for k, _ in model.named_parameters()}.intersection(missing):  # buffers are constants
                raise ModelMismatchError(f"{self.init_path} lacks parameters: {missing}")
        model.grad_checkpointing = t.grad_checkpointing
        return model

    def batch(self, model: nn.Module, gen: torch.Generator) -> tuple[Tensor, ...]:
        """Random flipped windows of the crops; each sample's level is drawn after the windows."""
        x = sample_batch(self.train, self.o.batch, self.o.patch, gen).to(self.device, non_blocking=True)
        return x, torch.randint(model.num_levels, (self.o.batch,), generator=gen).to(self.device)

    def loss(self, net: nn.Module, model: nn.Module, batch: tuple[Tensor, ...],
             amp: AbstractContextManager) -> tuple[Tensor, dict[str, Tensor]]:
        x, level = batch
        with amp:
            out = net(x, level)
        r = rd_loss(x, out, torch.tensor(model.config.lambdas, device=self.device)[level], self.options.metric)
        return r.loss, {"bpp": r.bpp.mean(), "psnr": db_from_mse(r.mse.mean())}

    @torch.no_grad()
    def validate(self, model: nn.Module) -> dict[str, float]:
        """Mean RD loss over all levels on the fixed validation crops, with real rounding (eval mode)."""
        model.eval()
        x = as_float(self.val).to(self.device)
        lam = torch.tensor(model.config.lambdas, device=self.device)
        loss = bpp = psnr = 0.0
        for lvl in range(model.num_levels):
            for i in range(0, len(x), 16):
                xb = x[i:i + 16]
                level = torch.full((len(xb),), lvl, device=self.device, dtype=torch.long)
                r = rd_loss(xb, model(xb, level), lam[level], self.options.metric)
                loss += r.loss.item() * len(xb)
                bpp += r.bpp.sum().item()
                psnr += db_from_mse(r.mse).sum().item()
        model.train()
        n = len(x) * model.num_levels
        return {"val_loss": loss / n, "val_bpp": bpp / n, "val_psnr": psnr / n}

    def export(self, model: nn.Module, path: Path, provenance: dict) -> Path:
        provenance["metric"] = self.options.metric
        return export_hyperprior(model.state_dict(), model.config, path, provenance, codec=self.o.codec)
