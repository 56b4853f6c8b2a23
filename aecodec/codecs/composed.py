"""An image codec assembled from parts: transforms, a latent coder, and optional pixel post-processing.

Every image codec is one of these (``aecodec.contract.ImageCodec``): the registered codecs differ only in the
parts their loaders put together, so a new latent coder or post-filter plugs in without touching the others,
and codecs that share parts (a post-filtered codec and its base) share the very objects.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from ..contract import EFFORTS, Coded, LatentCoder
from .transforms import Transforms, crop_latent

# Post-processing: (pixels before clamping [B, 3, H, W], quality16, whether the fast kernels run) -> pixels
PostProcess = Callable[[Tensor, int, bool], Tensor]
# Encoder refinement: (image [1, 3, H, W], gained latent, hyper-latent, quality16, effort) -> both refined
Refiner = Callable[[Tensor, Tensor, Tensor, int, int], "tuple[Tensor, Tensor]"]


class ComposedCodec:
    """Implements ``aecodec.contract.ImageCodec``. ``model``: the trained ``nn.Module`` the parts come from,
    where there is one (for training and inspection); ``levels``: trained quality levels."""

    def __init__(self, transforms: Transforms, latents: LatentCoder, post: PostProcess | None = None,
                 refiner: Refiner | None = None, model: nn.Module | None = None, levels: int = 1):
        self.transforms, self.latents, self.post, self.refiner = transforms, latents, post, refiner
        self.model, self.levels = model, levels

    @property
    def stride(self) -> int:
        return self.transforms.downsampling * self.latents.downsampling

    @property
    def rate_steps(self) -> tuple[int, ...] | None:
        return self.latents.rate_steps

    @property
    def device(self) -> torch.device:
        return self.transforms.device

    def with_transforms(self, transforms: Transforms) -> "ComposedCodec":
        """The same latent coder and post-processing around other transforms (another back-end)."""
        return ComposedCodec(transforms, self.latents, self.post, self.refiner, self.model, self.levels)

    def with_latents(self, latents: LatentCoder) -> "ComposedCodec":
        """The same transforms (and post-processing) around another latent coder."""
        return ComposedCodec(self.transforms, latents, self.post, self.refiner, self.model, self.levels)

    def with_post(self, post: PostProcess) -> "ComposedCodec":
        """The same parts with ``post`` after the synthesis (a post-filtered variant of this codec)."""
        return ComposedCodec(self.transforms, self.latents, post, self.refiner, self.model, self.levels)

    def analyze(self, x: Tensor, crop: tuple[int, int, int, int] | None = None) -> tuple[Tensor, Tensor]:
        """Images -> (images on the device, latents), both cut to ``crop`` when given (see the contract)."""
        x = x.to(self.device)
        y = self.transforms.analyze(x)
        return crop_latent(x, y, crop) if crop is not None else (x, y)

    @torch.no_grad()
    def compress_batch(self, x: Tensor, quality16: int, effort: int = 0,
                       crop: tuple[int, int, int, int] | None = None) -> list[Coded]:
        if effort not in EFFORTS:
            raise ValueError(f"effort must be one of {list(EFFORTS)}, not {effort}")
        if effort and self.refiner is None:
            raise ValueError("this codec has no encoder effort levels (use effort 0)")
        x, y = self.analyze(x, crop)
        refine = None
        if effort:
            def refine(b: int, y_g: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
                return self.refiner(x[b:b + 1], y_g, z, quality16, effort)
        return self.latents.encode(y, quality16, refine)

    def decode_latents(self, items: list[Coded], height: int, width: int, quality16: int) -> Tensor:
        shape = (height // self.transforms.downsampling, width // self.transforms.downsampling)
        y_hat = torch.cat([self.latents.decode(item, shape, quality16) for item in items])
        return self.latents.to_synthesis(y_hat, quality16, self.device)

    @torch.no_grad()
    def synthesize(self, latents: Tensor, quality16: int) -> Tensor:
        x = self.transforms.synthesize(latents)
        if self.post is not None:
            x = self.post(x, quality16, self.transforms.fast)
        return x.clamp_(0, 1)

    @torch.no_grad()
    def decompress_batch(self, items: list[Coded], height: int, width: int, quality16: int) -> Tensor:
        return self.synthesize(self.decode_latents(items, height, width, quality16), quality16)
