"""What several tasks share: the image crops of a run, the frozen latents they derive from them, the state a warm
start reads, and the ``--lambdas`` text."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from ...models.hyperprior import Hyperprior
from ..cache import cached
from ..crops import image_crops
from ..options import TrainOptions
from .codec_layer import hyperprior_of, load_base_model, read_weights, shipped_sha256


def parse_lambdas(text: str) -> tuple[float, ...]:
    """``--lambdas`` ("0.01,0.05") as floats; empty when not given (the codec's or the initial weights' then)."""
    return tuple(float(v) for v in text.split(",")) if text else ()


def crops(o: TrainOptions) -> tuple[Tensor, Tensor]:
    """The (training, validation) uint8 crops of a run's data options (``aecodec.training.crops.image_crops``)."""
    return image_crops(o.data, o.patch, o.crop, o.crops_per_image, o.seed)


def read_state(path: Path, family: str) -> tuple[dict, dict[str, Tensor]]:
    """(config, float parameters) of a weights file of ``family`` or of a run's ``.pt`` checkpoint."""
    if path.suffix == ".pt":
        ck = torch.load(path, map_location="cpu", weights_only=False)
        return ck["config"], ck["model"]
    return read_weights(path, family)


@torch.no_grad()
def analyse(model: Hyperprior, images: Tensor, device: torch.device) -> Tensor:
    """Latents of uint8 crops [N, S, S, 3] under a frozen model, fp16 on the CPU [N, M, S/16, S/16]."""
    ys = [model.analysis(images[i:i + 16].permute(0, 3, 1, 2).float().div(255).to(device)).half().cpu()
          for i in range(0, len(images), 16)]
    return torch.cat(ys)


def frozen_latents(o: TrainOptions, out: Path, device: torch.device,
                   images: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
    """(training, validation) latents of the run's crops (or of ``images``) under the frozen shipped hyperprior
    that ``o.codec`` builds on, computed once per run and cached in ``out/latents.pt`` (recomputed when the data
    options or the base weights change)."""
    base = hyperprior_of(o.codec)
    key = {"data": o.data, "crop": max(o.patch, o.crop), "crops_per_image": o.crops_per_image, "seed": o.seed,
           "base_sha256": shipped_sha256(base)}

    def compute() -> dict:
        train, val = images or crops(o)
        model = load_base_model(base, o.device)
        return {"train": analyse(model, train, device), "val": analyse(model, val, device)}

    latents = cached(out / "latents.pt", key, compute)
    return latents["train"], latents["val"]
