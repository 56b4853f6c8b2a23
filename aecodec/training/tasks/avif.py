"""The AVIF restoration filter's task: ``avif-pf``'s filter on crops AVIF-coded once, at the codec's qualities."""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ...errors import AecError
from ..batches import WindowSampler
from ..cache import cached
from ..options import TrainOptions
from .base import Task
from .codec_layer import AVIF_LEVELS, AVIF_SPEED, QUALITY_STEPS, avif_round_trip, export_avif_filter, weights_family
from .common import crops, read_state
from .postfilter import PostFilterOptions, PostFilterTask


def _coded(args: tuple[np.ndarray, int]) -> np.ndarray:
    return avif_round_trip(*args)


def _code_all(images: Tensor, quality16: list[int], workers: int) -> Tensor:
    """uint8 crops [N, S, S, 3] -> what the codec's AVIF stage decodes them to at each one's quality, [N, 3, S, S]
    uint8, over ``workers`` processes (libavif's encoder is the cost)."""
    jobs = [(images[i].numpy(), q) for i, q in enumerate(quality16)]
    with ProcessPoolExecutor(workers) as pool:
        out = list(pool.map(_coded, jobs, chunksize=8))
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()


class AvifFilterTask(PostFilterTask):
    """The restoration filter of an ``avif-pf`` codec (``aecodec.models.postfilter``'s design) after AV1 intra.
    Every training crop is AVIF-coded once, exactly as the codec codes it, at a random quality in 1/16 steps (so
    fractional qualities get their share), and cached with the validation crops coded at every whole quality
    (``OUT/decoded.pt``); steps, loss and validation are the post-filter task's. A warm start may read a
    ``postfilter`` weights file of the same shape (``--init``): the pf filters' features, new level biases."""

    family = "avif-pf"
    default_data = "train"

    def __init__(self, o: TrainOptions, options: PostFilterOptions, device: torch.device):
        Task.__init__(self, o, options, device)
        if o.patch % 2 or o.patch > o.crop:
            raise AecError(f"--patch {o.patch}: {o.codec} trains on even windows of the --crop {o.crop} crops")
        self.levels = AVIF_LEVELS

    def prepare(self, out: Path) -> None:
        self.train_x, self.val_x = crops(self.o)
        key = {"data": self.o.data, "crop": self.o.crop, "crops_per_image": self.o.crops_per_image,
               "seed": self.o.seed, "speed": AVIF_SPEED}
        workers = os.cpu_count() or 1

        def compute() -> dict:
            gen = torch.Generator().manual_seed(1)
            q16 = torch.randint(QUALITY_STEPS, QUALITY_STEPS * self.levels + 1, (len(self.train_x),), generator=gen)
            train = _code_all(self.train_x, q16.tolist(), workers)
            val = torch.stack([_code_all(self.val_x, [QUALITY_STEPS * (lv + 1)] * len(self.val_x), workers)
                               for lv in range(self.levels)])
            return {"levels": (q16.float() - QUALITY_STEPS) / QUALITY_STEPS, "train": train, "val": val}

        found = cached(out / "decoded.pt", key, compute)
        self.train_levels, self.train, self.val = found["levels"], found["train"], found["val"]
        n, _, h, w = self.train.shape
        self.sampler = WindowSampler(n, h, w, self.o.patch, grid=2)

    def data_description(self) -> str:
        o = self.o
        return (f"{o.data}: {len(self.train)} random {self.train_x.shape[1]}px crops of its training split "
                f"({o.crops_per_image} per image, seed {o.seed}), each AVIF-coded once (4:4:4, speed {AVIF_SPEED}) "
                f"at a random quality in 1/16 steps; {o.patch}px windows; validation: {len(self.val_x)} crops at "
                "every whole quality")

    def warm_state(self) -> tuple[dict, dict[str, Tensor]]:
        """A warm start's (config, parameters): this family's file or checkpoint, or a ``postfilter`` file."""
        path = self.init_path
        if path.suffix != ".pt" and weights_family(path) == "postfilter":
            return read_state(path, "postfilter")
        return read_state(path, self.family)

    def export(self, model: nn.Module, path: Path, provenance: dict) -> Path:
        return export_avif_filter(model, path, provenance)
