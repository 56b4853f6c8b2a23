"""The analysis and synthesis transforms of an image codec, on a back-end chosen once per loaded codec.

On a CPU with oneDNN, both run as ``aecodec.codecs.inference.FastSequential`` (oneDNN's forward kernels only:
the same pixels at any thread count, and about twice as fast); elsewhere, or for a layer without a fast form,
PyTorch's modules run, the synthesis with oneDNN switched off (PyTorch's native transposed convolutions sum in
an order independent of the thread count).
"""
from __future__ import annotations

from contextlib import contextmanager
from functools import cached_property
from typing import Iterator

import torch
from torch import Tensor, nn

from . import inference


@contextmanager
def thread_invariant() -> Iterator[None]:
    """oneDNN's transposed convolutions sum in an order that depends on the thread count; PyTorch's native
    kernels for them do not."""
    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before


def crop_latent(x: Tensor, y: Tensor, crop: tuple[int, int, int, int]) -> tuple[Tensor, Tensor]:
    """(images, their latents) -> both cut to ``crop`` = (top, left, height, width) in pixels."""
    top, left, h, w = crop
    s = x.shape[-1] // y.shape[-1]  # pixels per latent
    if top % s or left % s or h % s or w % s:
        raise ValueError(f"crop {crop} is not on the latent grid ({s} pixels)")
    return (x[..., top:top + h, left:left + w],
            y[..., top // s:(top + h) // s, left // s:(left + w) // s].contiguous())


class Transforms:
    """``g_a``: image [B, 3, H, W] -> latent [B, M, H/16, W/16]; ``g_s`` back (not clamped). oneDNN where it
    serves every layer, unless ``native`` (PyTorch's own kernels: benchmarks compare the two)."""

    downsampling = 16

    def __init__(self, g_a: nn.Sequential, g_s: nn.Sequential, device: torch.device | str = "cpu",
                 native: bool = False):
        self.device = torch.device(device)
        self.g_a, self.g_s = g_a.eval().to(self.device), g_s.eval().to(self.device)
        fast = inference.available(self.device) and not native
        self.fast_analysis = fast and inference.supported(g_a)
        self.fast = fast and inference.supported(g_s)  # the synthesis' back-end (and the post-filter's)
        # other networks (residual blocks) run their own forward, every convolution on the same kernels
        self.tree_analysis = fast and not self.fast_analysis and inference.tree_supported(g_a)
        self.tree_synthesis = fast and not self.fast and inference.tree_supported(g_s)

    def native(self) -> "Transforms":
        """The same modules on PyTorch's native kernels."""
        return Transforms(self.g_a, self.g_s, self.device, native=True)

    @cached_property
    def _fast_g_a(self) -> inference.FastSequential:
        return inference.FastSequential(self.g_a)

    @cached_property
    def _fast_g_s(self) -> inference.FastSequential:
        return inference.FastSequential(self.g_s)

    @torch.no_grad()
    def analyze(self, x: Tensor) -> Tensor:
        x = x.to(self.device)
        if self.fast_analysis:
            return self._fast_g_a(x)
        if self.tree_analysis:
            with inference.onednn_convolutions():
                return self.g_a(x).contiguous()
        return self.g_a(x).float()

    @torch.no_grad()
    def synthesize(self, y: Tensor) -> Tensor:
        if self.fast:
            return self._fast_g_s(y)
        if self.tree_synthesis:
            with inference.onednn_convolutions():
                return self.g_s(y).contiguous()
        with thread_invariant():
            return self.g_s(y)
