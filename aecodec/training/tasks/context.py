"""The checkerboard context model's task: a context model on the frozen latents of the hyperprior it builds on."""
from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ...coding.tables import SCALE_MIN
from ...errors import AecError
from ...models.context import CheckerboardContext, ContextConfig, anchor_mask
from ..batches import WindowSampler
from ..options import TaskOptions, TrainOptions, option
from .base import Task
from .codec_layer import export_context, load_base_model, shipped_sha256
from .common import frozen_latents, read_state


def discrete_bits(v: Tensor, scale: Tensor) -> Tensor:
    """-log2 P(v) for a zero-mean Gaussian of ``scale`` integrated over [v - 1/2, v + 1/2]."""
    s = scale.clamp_min(SCALE_MIN)  # the coding table's smallest scale
    normal = torch.distributions.Normal(0.0, 1.0)
    # on -|v| (the density is symmetric): differences of small lower-tail CDFs keep their precision
    p = normal.cdf((0.5 - v.abs()) / s) - normal.cdf((-0.5 - v.abs()) / s)
    return -torch.log2(p.clamp_min(1e-9))


@torch.no_grad()
def hyper_side(base: nn.Module, y: Tensor, level: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Frozen base: (gain [B, M, 1, 1], hyperprior (mean, scale) ungained [B, 2M, h, w], z bits per sample)."""
    g, _, hg, ihg = base.gains(level)
    z_hat = torch.round(base.hyper_latent(y, hg))
    params = base.hyper_parameters(z_hat, ihg)
    _, z_lik = base.entropy_bottleneck(z_hat, training=False)
    return g, params, -torch.log2(z_lik).flatten(1).sum(1)


def checkerboard_bits(ctx: CheckerboardContext, base: nn.Module, y: Tensor, level: Tensor,
                      noise: str = "") -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Bits per sample of frozen latents ``y`` [B, M, h, w] of a ``Hyperprior`` ``base`` at ``level`` [B]:
    (non-anchors under the context model, non-anchors under the hyperprior alone, anchors, z). ``noise``:
    "noise" (uniform noise for rounding: training), "round" (real symbols, straight-through means) or ""
    (real symbols: measurement)."""
    g, params, z_bits = hyper_side(base, y, level)
    mu, sigma = params.chunk(2, 1)
    y_g = y * g
    mask = anchor_mask(*y.shape[-2:], y.device)
    s = torch.round(y_g - mu * g)
    anchors = torch.where(mask, (s + mu * g) / g, torch.zeros_like(y))
    mu2, sigma2 = ctx(anchors, params, level).chunk(2, 1)
    r = y_g - mu2 * g
    if noise == "noise":
        r = r + torch.empty_like(r).uniform_(-0.5, 0.5)
    elif noise == "round":  # the real symbol; the mean learns through a straight-through estimate
        r = r + (torch.round(r) - r).detach()
    else:
        r = torch.round(r)
    ctx_bits = (discrete_bits(r, sigma2 * g) * ~mask).flatten(1).sum(1)
    hyp = discrete_bits(s, sigma * g)
    return ctx_bits, (hyp * ~mask).flatten(1).sum(1), (hyp * mask).flatten(1).sum(1), z_bits


@dataclass
class ContextOptions(TaskOptions):
    width: int = option(192, "fresh hyperprior-ctx: context features", shape=True)
    hidden: int = option(384, "fresh hyperprior-ctx: entropy-parameter network width", shape=True)


class ContextTask(Task):
    """The checkerboard context model (``aecodec.models.context``) for the frozen shipped hyperprior. The base
    never changes, so its analysis runs once per crop (``frozen_latents``) and a step touches only latent
    tensors. Loss: bits of the non-anchors (the latents the context model predicts) with uniform noise for
    rounding, levels at random, on random windows of ``patch``/16 latents; validation: the real rounded bits of
    every latent and of the hyper-latent, all levels, against the hyperprior alone."""

    family = "context"
    Options = ContextOptions
    options: ContextOptions
    columns = ("hyper_bpp",)
    val_columns = ("val_hyper_bpp", "val_saving")

    def __init__(self, o: TrainOptions, options: ContextOptions, device: torch.device):
        super().__init__(o, options, device)
        if o.patch % 64:
            raise AecError(f"--patch {o.patch}: {o.codec} trains on windows of whole hyper-latents "
                           "(a multiple of 64 pixels)")
        self.base = load_base_model(self.info.base, o.device).float().eval().requires_grad_(False)

    def prepare(self, out: Path) -> None:
        train, self.val = frozen_latents(self.o, out, self.device)
        self.train = train.to(self.device)
        n, _, h, w = self.train.shape
        # windows on the hyper-latent grid (4 latents), as the codec cuts them
        self.sampler = WindowSampler(n, h, w, self.o.patch // 16, grid=4, levels=self.base.num_levels)

    def data_description(self) -> str:
        o = self.o
        return (f"{o.data}: latents of {len(self.train)} {16 * self.train.shape[-1]}px crops (the frozen shipped "
                f"hyperprior's analysis; {o.crops_per_image} per image, seed {o.seed}), {o.patch}px windows; "
                f"validation: {len(self.val)} crops")

    def build(self, config: dict | None) -> nn.Module:
        if config:
            return CheckerboardContext(ContextConfig.from_dict(config))
        if self.o.fresh:
            return CheckerboardContext(ContextConfig(M=self.base.config.M, levels=self.base.num_levels,
                                                     width=self.options.width, hidden=self.options.hidden))
        d, state = read_state(self.init_path, self.family)
        model = CheckerboardContext(ContextConfig.from_dict(d))
        model.load_state_dict(state)
        return model

    def batch(self, model: nn.Module, gen: torch.Generator) -> tuple[Tensor, ...]:
        windows = self.sampler.draw(self.o.batch, gen)
        return windows.cut(self.train).float(), windows.level.to(self.device)

    def loss(self, net: nn.Module, model: nn.Module, batch: tuple[Tensor, ...],
             amp: AbstractContextManager) -> tuple[Tensor, dict[str, Tensor]]:
        y, level = batch
        c, h, _, _ = checkerboard_bits(net, self.base, y, level, noise="noise")
        pixels = 256 * y.shape[-2] * y.shape[-1]
        return c.mean() / pixels, {"hyper_bpp": h.mean() / pixels}

    @torch.no_grad()
    def validate(self, model: nn.Module) -> dict[str, float]:
        """Real (rounded) bits per pixel over all levels: with the context model, and the hyperprior alone."""
        model.eval()
        with_ctx = hyper_only = 0.0
        for lvl in range(self.base.num_levels):
            for i in range(0, len(self.val), 32):
                y = self.val[i:i + 32].float().to(self.device)
                level = torch.full((len(y),), lvl, dtype=torch.long, device=self.device)
                c, h, anchors, z = checkerboard_bits(model, self.base, y, level)
                with_ctx += (c + anchors + z).sum().item()
                hyper_only += (h + anchors + z).sum().item()
        model.train()
        pixels = 256 * self.val[0, 0].numel() * len(self.val) * self.base.num_levels
        return {"val_loss": with_ctx / pixels, "val_hyper_bpp": hyper_only / pixels,
                "val_saving": 1 - with_ctx / hyper_only}

    def export(self, model: nn.Module, path: Path, provenance: dict) -> Path:
        base_hash = shipped_sha256(self.info.base)
        provenance["base_sha256"] = base_hash
        return export_context(model, base_hash, path, provenance)
