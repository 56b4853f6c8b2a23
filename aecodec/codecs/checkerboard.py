"""The checkerboard latent pass: the hyperprior's latents coded in two halves, the second context-predicted.

Same transforms, hyper-latent stream and container as ``hyperprior``; the latent stream holds the anchors
(coded under the hyperprior's parameters) followed by the non-anchors (coded under parameters the integer
context model computes from the hyperprior's and the decoded anchors). One rANS stream, read in two parts.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import Tensor

from ..coding.fixedpoint import FRAC_A, FRAC_G, IntCheckerboard, shift_round
from ..coding.rans import RansCoder
from ..models.context import CheckerboardContext, ContextConfig, anchor_mask
from . import weights_file
from .composed import ComposedCodec
from .latents import HyperPath, Side, symbols_of


class CheckerboardPass:
    """``aecodec.codecs.latents.LatentPass`` of a trained context model, in its exact integer twin."""

    def __init__(self, context: CheckerboardContext, hyper: HyperPath):
        self.int_context = IntCheckerboard(context)
        self.hyper = hyper  # the hyper path whose parameters it corrects

    def _second_pass(self, symbols: Tensor, side: Side, quality16: int) -> tuple[Tensor, Tensor, Tensor]:
        """Symbols (only the anchors are read) -> (non-anchor mask [h, w], their scale indexes and gained means
        [M, n])."""
        gains = self.hyper.gains
        anchor = anchor_mask(*symbols.shape[-2:])
        g = gains.latent_int(quality16)
        inv_g = ((1 << 2 * FRAC_G) + g // 2) // g  # 1/g in FRAC_G fixed point by integer division: exact
        y_hat_g = symbols * (1 << FRAC_A) + side.mean
        ungained = torch.where(anchor, shift_round(y_hat_g * inv_g[None, :, None, None], FRAC_G), 0)
        level_bias = gains.interpolate(self.int_context.level_bias, quality16)
        rest = ~anchor[0, 0]
        params = self.int_context(ungained, side.params, level_bias, rest)
        idx, mean = self.hyper.gained(params[None], quality16)
        return rest, idx[0], mean[0]

    def _quantize(self, y_g: Tensor, side: Side, quality16: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Anchors under the hyperprior's means, then the rest under the context model's -> (symbols, non-anchor
        mask, their scale indexes and gained means)."""
        symbols = symbols_of(y_g, side.mean)
        rest, idx2, mean2 = self._second_pass(symbols, side, quality16)
        symbols[0][:, rest] = symbols_of(y_g[0][:, rest], mean2)
        return symbols, rest, idx2, mean2

    def quantize(self, y_g: Tensor, side: Side, quality16: int) -> tuple[Tensor, Tensor]:
        symbols, rest, _, mean2 = self._quantize(y_g, side, quality16)
        mean = side.mean.clone()
        mean[0][:, rest] = mean2
        return symbols, mean

    def code(self, y_g: Tensor, side: Side, quality16: int, coder: RansCoder) -> tuple[bytes, Tensor]:
        symbols, rest, idx2, _ = self._quantize(y_g, side, quality16)
        order = torch.cat([symbols[0][:, ~rest].reshape(-1), symbols[0][:, rest].reshape(-1)])
        indexes = torch.cat([side.scale_index[0][:, ~rest].reshape(-1), idx2.reshape(-1)])
        return coder.encode(order, indexes), symbols

    def parse(self, stream: bytes, side: Side, quality16: int, coder: RansCoder) -> tuple[Tensor, Tensor]:
        idx = side.scale_index
        read = coder.reader(stream, idx.numel())
        anchor = anchor_mask(*idx.shape[-2:])[0, 0]
        symbols = torch.zeros_like(idx)
        symbols[0][:, anchor] = read(idx[0][:, anchor])
        rest, idx2, mean2 = self._second_pass(symbols, side, quality16)
        symbols[0][:, rest] = read(idx2)
        mean = side.mean.clone()
        mean[0][:, rest] = mean2
        return symbols, mean


def export(context: CheckerboardContext, base_hash: str, path: Path, provenance: dict | None = None) -> Path:
    """A trained context model -> its weights file: fp16 parameters, its config, and the SHA-256 (hex) of the
    ``hyperprior`` weights it was trained for (not copied: the hash pins them)."""
    params = weights_file.half(context.state_dict())
    context.load_state_dict({k: v.float() for k, v in params.items()})
    IntCheckerboard(context)  # raises if a layer could leave the exact range
    meta = {"family": "context", "config": json.dumps(context.config.to_dict()), "base_sha256": base_hash}
    return weights_file.write(path, params, meta, provenance)


def read_context(path: Path) -> CheckerboardContext:
    meta = weights_file.weights_metadata(path)
    context = CheckerboardContext(ContextConfig.from_dict(json.loads(meta["config"])))
    context.load_state_dict({k: v.float() for k, v in weights_file.read_tensors(path).items()})
    return context


def load(path: Path, device: str, base: ComposedCodec) -> ComposedCodec:
    """Context weights file -> the loaded hyperprior's parts (shared, not copied: both codecs can be loaded at
    once for the price of one) with this context model's latent pass."""
    latent_pass = CheckerboardPass(read_context(path), base.latents.hyper)
    return base.with_latents(base.latents.with_pass(latent_pass))
