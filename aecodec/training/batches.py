"""Random training batches: one sampler, used by every task, draws where each sample of a batch comes from (which
image, which level, which window, which flips) and cuts those windows out of any stack of images, so paired
stacks (a decoded crop and its original) are cut alike."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Windows:
    """A drawn batch: the image of each sample (``index``), its level (when drawn), and its window (``size``
    pixels from ``tops``/``lefts``, with flips when drawn); ``size`` 0 takes whole samples."""

    index: Tensor
    level: Tensor | None = None
    size: int = 0
    tops: tuple[int, ...] = ()
    lefts: tuple[int, ...] = ()
    flips: Tensor | None = None  # [B, 3] bool: flip left-right, flip up-down, transpose

    def cut(self, images: Tensor, channels_last: bool = False) -> Tensor:
        """The windows of ``images`` [N, C, H, W] (or [N, H, W, C] with ``channels_last``), stacked in that
        layout; with ``size`` 0 the rows of ``images`` themselves, gathered on their device."""
        if not self.size:
            return images[self.index.to(images.device)]
        h, w = (0, 1) if channels_last else (1, 2)  # the spatial dimensions of one image
        out = []
        for b, (i, top, left) in enumerate(zip(self.index.tolist(), self.tops, self.lefts)):
            c = images[i].narrow(h, top, self.size).narrow(w, left, self.size)
            if self.flips is not None:
                if self.flips[b, 0]:
                    c = c.flip(w)
                if self.flips[b, 1]:
                    c = c.flip(h)
                if self.flips[b, 2]:
                    c = c.transpose(h, w)
            out.append(c)
        return torch.stack(out)


@dataclass(frozen=True)
class WindowSampler:
    """Batches from ``count`` images of ``height`` x ``width``: windows of side ``size`` (0: whole samples) at
    offsets that are multiples of ``grid`` (a model's stride: windows on the grid the codec cuts), a level out of
    ``levels`` per sample when ``levels`` > 0, and the 8 flips/transpositions with ``flips``."""

    count: int
    height: int = 0
    width: int = 0
    size: int = 0
    grid: int = 1
    levels: int = 0
    flips: bool = False

    def draw(self, batch: int, gen: torch.Generator) -> Windows:
        """A batch drawn with ``gen`` (a CPU generator, so runs are seeded on any device), in the order images,
        levels, tops, lefts, flips."""
        index = torch.randint(self.count, (batch,), generator=gen)
        level = torch.randint(self.levels, (batch,), generator=gen) if self.levels else None
        if not self.size:
            return Windows(index, level)
        tops = self.grid * torch.randint((self.height - self.size) // self.grid + 1, (batch,), generator=gen)
        lefts = self.grid * torch.randint((self.width - self.size) // self.grid + 1, (batch,), generator=gen)
        flips = torch.rand(batch, 3, generator=gen) < 0.5 if self.flips else None
        return Windows(index, level, self.size, tuple(tops.tolist()), tuple(lefts.tolist()), flips)


def as_float(crops: Tensor) -> Tensor:
    """uint8 crops [N, H, W, 3] -> float images [N, 3, H, W] in [0, 1]; channels-last in memory (a view of NHWC):
    convolutions on this CPU run 1.35x faster so (docs/training.md)."""
    return crops.permute(0, 3, 1, 2).float().div_(255.0)


def sample_batch(crops: Tensor, batch: int, patch: int, gen: torch.Generator) -> Tensor:
    """A float batch [B, 3, patch, patch] in [0, 1] of random ``patch`` windows of uint8 crops [N, S, S, 3] (which
    may live on the GPU), each under one of the 8 flips/transpositions."""
    n, h, w, _ = crops.shape
    return as_float(WindowSampler(n, h, w, patch, flips=True).draw(batch, gen).cut(crops, channels_last=True))
