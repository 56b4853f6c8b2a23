"""The post-filter's task: the decoder-side enhancement filter after a frozen base codec, on crops that codec
decoded once."""
from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ...errors import AecError
from ...eval.metrics import db_from_mse
from ...models.postfilter import PostFilter, PostFilterConfig
from ..batches import WindowSampler, as_float
from ..cache import cached
from ..options import TaskOptions, TrainOptions, option
from .base import Task
from .codec_layer import decoded, export_postfilter, load_codec, shipped_sha256
from .common import crops, frozen_latents, read_state


@dataclass
class PostFilterOptions(TaskOptions):
    filter_channels: int = option(48, "fresh post-filter: features of the filter", shape=True)
    filter_layers: int = option(4, "fresh post-filter: 3x3 convolutions of the filter", shape=True)
    filter_blocks: int = option(0, "post-filter: residual blocks; more than a warm start's adds identity blocks")


def sample_db(x_hat: Tensor, x: Tensor) -> Tensor:
    """PSNR per sample [B] of images in [0, 1]."""
    return db_from_mse((x_hat - x).pow(2).flatten(1).mean(1).clamp(min=1e-10))


def unit(coded: Tensor) -> Tensor:
    """Stored decoded crops (fp16 synthesis outputs, or uint8 pixels) as float images in [0, 1]-ish."""
    return coded.float() if coded.is_floating_point() else coded.float().div_(255.0)


def pixels(x: Tensor) -> Tensor:
    """The 8-bit pixels the decoder writes for ``x``, back in [0, 1]."""
    return x.clamp(0, 1).mul(255).round().div(255)


class PostFilterTask(Task):
    """The decoder-side enhancement filter of a ``postfilter`` codec (``aecodec.models.postfilter``) after its
    frozen base codec. Its input never changes, so every training crop is decoded once, exactly as the codec
    decodes it (integer hyper path and context model), at one random level, and cached with the validation crops
    decoded at every level (``OUT/decoded.pt``); a step then runs only the filter, on random ``patch``-pixel
    windows of the decoded crops (a pixel filter has no latent borders to learn, unlike a synthesis). Loss: minus
    the batch's mean PSNR, so every level counts alike, as in a BD-rate. Validation: mean PSNR of the clamped
    8-bit pixels over the validation crops and every level, and its gain over the codec without the filter."""

    family = "postfilter"
    Options = PostFilterOptions
    options: PostFilterOptions
    columns = ("psnr", "gain")
    val_columns = ("val_psnr", "val_gain")

    def __init__(self, o: TrainOptions, options: PostFilterOptions, device: torch.device):
        super().__init__(o, options, device)
        if o.patch % 2 or o.patch > o.crop:
            raise AecError(f"--patch {o.patch}: {o.codec} trains on even windows of the --crop {o.crop} crops")
        self.codec = load_codec(self.info.base, o.device)
        self.levels = self.codec.levels

    def prepare(self, out: Path) -> None:
        images = crops(self.o)
        train_y, val_y = frozen_latents(self.o, out, self.device, images)
        self.train_x, self.val_x = images
        key = {"data": self.o.data, "crop": self.o.crop, "crops_per_image": self.o.crops_per_image,
               "seed": self.o.seed, "base_sha256": shipped_sha256(self.info.base)}

        def compute() -> dict:
            levels = torch.randint(self.levels, (len(train_y),), generator=torch.Generator().manual_seed(1))
            train = torch.cat([decoded(self.codec, train_y[i:i + 1], lv, self.device)
                               for i, lv in enumerate(levels.tolist())])
            val = torch.stack([torch.cat([decoded(self.codec, val_y[i:i + 1], lv, self.device)
                                          for i in range(len(val_y))]) for lv in range(self.levels)])
            return {"levels": levels, "train": train, "val": val}

        found = cached(out / "decoded.pt", key, compute)
        self.train_levels, self.train, self.val = found["levels"], found["train"], found["val"]
        n, _, h, w = self.train.shape
        self.sampler = WindowSampler(n, h, w, self.o.patch, grid=2)

    def data_description(self) -> str:
        o = self.o
        return (f"{o.data}: {len(self.train)} random {self.train_x.shape[1]}px crops of its training split "
                f"({o.crops_per_image} per image, seed {o.seed}), each decoded once by the frozen {self.info.base} "
                f"at one random level; {o.patch}px windows; validation: {len(self.val_x)} crops at every level")

    def build(self, config: dict | None) -> nn.Module:
        if config:
            return PostFilter(PostFilterConfig.from_dict(config))
        t = self.options
        if self.o.fresh:
            return PostFilter(PostFilterConfig(self.levels, t.filter_channels, t.filter_layers, t.filter_blocks))
        d, state = self.warm_state()
        model = PostFilter(PostFilterConfig.from_dict(d))
        model.load_state_dict(state)
        if t.filter_blocks and t.filter_blocks != model.config.blocks:
            try:
                model = model.grow(t.filter_blocks)  # a warm start with more depth: new blocks start as identities
            except ValueError as e:
                raise AecError(f"--filter-blocks {t.filter_blocks}: {e}") from e
        return model

    def warm_state(self) -> tuple[dict, dict[str, Tensor]]:
        """A warm start's (config, parameters)."""
        return read_state(self.init_path, self.family)

    def batch(self, model: nn.Module, gen: torch.Generator) -> tuple[Tensor, ...]:
        """The same random windows of decoded crops and originals, on the 2x2 grid the filter folds pixels by."""
        windows = self.sampler.draw(self.o.batch, gen)
        x = as_float(windows.cut(self.train_x, channels_last=True))
        level = self.train_levels[windows.index].float()
        return unit(windows.cut(self.train)).to(self.device), x.to(self.device), level.to(self.device)

    def loss(self, net: nn.Module, model: nn.Module, batch: tuple[Tensor, ...],
             amp: AbstractContextManager) -> tuple[Tensor, dict[str, Tensor]]:
        coded, x, level = batch
        with amp:
            p = sample_db(net(coded, level).clamp(0, 1), x).mean()  # the decoder clamps
        return -p, {"psnr": p.detach(), "gain": p.detach() - sample_db(coded.clamp(0, 1), x).mean()}

    @torch.no_grad()
    def validate(self, model: nn.Module) -> dict[str, float]:
        """Mean PSNR of the 8-bit pixels the decoder would write, every validation crop at every level."""
        model.eval()
        x = as_float(self.val_x).to(self.device)
        filtered = base = 0.0
        for lv, coded in enumerate(self.val):
            for i in range(0, len(x), 16):
                d = unit(coded[i:i + 16]).to(self.device)
                level = torch.full((len(d),), float(lv), device=self.device)
                filtered += sample_db(pixels(model(d, level)), x[i:i + 16]).sum().item()
                base += sample_db(pixels(d), x[i:i + 16]).sum().item()
        model.train()
        n = len(x) * len(self.val)
        return {"val_loss": -filtered / n, "val_psnr": filtered / n, "val_gain": (filtered - base) / n}

    def export(self, model: nn.Module, path: Path, provenance: dict) -> Path:
        base_hash = shipped_sha256(self.info.base)
        provenance["base_sha256"] = base_hash
        return export_postfilter(model, base_hash, path, provenance)
