"""The vqvae codec's task: codebooks and index priors on the frozen hyperprior it builds on, RD loss through its
synthesis (the hyperprior task's data, batches, loss and validation)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ...errors import AecError
from ..options import TaskOptions, TrainOptions
from .codec_layer import export_vqvae, load_codec, shipped_sha256
from .common import frozen_latents, read_state
from .hyperprior import HyperpriorTask, metric_option
from .vq_books import LEVELS, MIN_PER_10MP, VQVAE, VQConfig, ecvq_init, usage_report


@dataclass
class VQOptions(TaskOptions):
    metric: str = metric_option()


class VQTask(HyperpriorTask):
    """The vqvae codec's codebooks and index priors (``aecodec.training.tasks.vq_books``) on the frozen shipped
    hyperprior, RD loss through its synthesis. The latents of the training crops (computed once, cached) seed a
    fresh run's books and, at export, prune every code the data would rarely use."""

    family = "vqvae"
    Options = VQOptions
    options: VQOptions
    parallel = False

    def __init__(self, o: TrainOptions, options: VQOptions, device: torch.device):
        if o.device != "cpu":
            raise AecError("vqvae trains on the CPU (its classes come from the integer hyper-synthesis)")
        super().__init__(o, options, device)
        self.hp = load_codec(self.info.base)

    def prepare(self, out: Path) -> None:
        super().prepare(out)
        self.latents, _ = frozen_latents(self.o, out, self.device, (self.train, self.val))

    def build(self, config: dict | None) -> nn.Module:
        if config:
            c = VQConfig.from_dict(config)
            return VQVAE(self.hp, c.levels, c.sizes)
        if self.o.fresh:
            return ecvq_init(self.hp, self.latents, torch.Generator().manual_seed(self.o.seed), LEVELS)
        if self.init_path.suffix == ".pt":
            d, state = read_state(self.init_path, self.family)
            model = self.build(d)
            model.load_state_dict(state)
            return model
        return VQVAE.from_codec(load_codec(self.o.codec, "cpu", self.init_path))

    def init_description(self) -> str:
        if self.o.fresh:
            return (f"entropy-constrained VQ of the mean-removed latent pairs of the {len(self.latents)} training "
                    "crops per quality and scale class (aecodec.training.tasks.vq_books.ecvq_init)")
        return super().init_description()

    def export(self, model: nn.Module, path: Path, provenance: dict) -> Path:
        """Prune the codes the training latents would rarely use, priors from the final counts, then write."""
        pixels = len(self.latents) * 256 * self.latents[0, 0].numel()
        min_count = math.ceil(MIN_PER_10MP * pixels / 1e7)
        sizes = sum(model.config.sizes.values())
        books, freqs, counts = model.finalize([y[None].float() for y in self.latents], min_count)
        base_hash = shipped_sha256(self.info.base)
        provenance.update(base_sha256=base_hash, levels=[lv + 1 for lv in model.levels], finalize={
            "min_per_10mp": MIN_PER_10MP, "min_count": min_count, "codes_before": sizes,
            "codes_after": sum(model.config.sizes.values())}, per_quality=usage_report(model, counts))
        provenance["config"] = model.config.to_dict()
        return export_vqvae(path, base_hash, model.levels, books, freqs, provenance)
