"""The checkerboard codec: the hyperprior codec plus a second, context-predicted pass over half the latents.

Same transforms, hyper-latent stream and container as ``hyperprior``; the latent stream holds the anchors
(coded under the hyperprior's parameters) followed by the non-anchors (coded under parameters the integer
context model computes from the hyperprior's and the decoded anchors). One rANS stream, read in two parts.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import Tensor

from . import weights
from .hyperprior import HyperpriorCodec, Side
from ..coding.fixedpoint import FRAC_A, FRAC_G, IntCheckerboard, shift_round
from ..models.context import CheckerboardContext, ContextConfig, anchor_mask


class CheckerboardCodec(HyperpriorCodec):
    """A loaded ``hyperprior`` codec plus the integer twin of a trained context model. The base's model, integer
    hyper-synthesis and tables are shared, not copied: both codecs can be loaded at once for the price of one."""

    def __init__(self, base: HyperpriorCodec, context: CheckerboardContext):
        self.__dict__.update(base.__dict__)
        self.int_context = IntCheckerboard(context)

    def _second_pass(self, symbols: Tensor, side: Side, q16: int) -> tuple[Tensor, Tensor, Tensor]:
        """Symbols (only the anchors are read) -> (non-anchor mask [h, w], their scale indexes and gained means
        [M, n])."""
        anchor = anchor_mask(*symbols.shape[-2:])
        g = self._int_gain(self.gain_fixed, q16)
        inv_g = ((1 << 2 * FRAC_G) + g // 2) // g  # 1/g in FRAC_G fixed point by integer division: exact
        y_hat_g = symbols * (1 << FRAC_A) + side.mu_g
        ungained = torch.where(anchor, shift_round(y_hat_g * inv_g[None, :, None, None], FRAC_G), 0)
        level_bias = self._int_gain(self.int_context.level_bias, q16)
        rest = ~anchor[0, 0]
        params = self.int_context(ungained, side.params, level_bias, rest)
        idx, mu2 = self._gained(params[None], q16)
        return rest, idx[0], mu2[0]

    def _quantize(self, y_g: Tensor, side: Side, q16: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Anchors under the hyperprior's means, then the rest under the context model's -> (symbols, non-anchor
        mask, their scale indexes and gained means)."""
        symbols = self.symbols(y_g, side.mu_g)
        rest, idx2, mu2 = self._second_pass(symbols, side, q16)
        symbols[0][:, rest] = self.symbols(y_g[0][:, rest], mu2)
        return symbols, rest, idx2, mu2

    def quantize(self, y_g: Tensor, side: Side, q16: int) -> tuple[Tensor, Tensor]:
        symbols, rest, _, mu2 = self._quantize(y_g, side, q16)
        mu_g = side.mu_g.clone()
        mu_g[0][:, rest] = mu2
        return symbols, mu_g

    def code_latent(self, y_g: Tensor, side: Side, q16: int) -> tuple[bytes, Tensor]:
        symbols, rest, idx2, _ = self._quantize(y_g, side, q16)
        order = torch.cat([symbols[0][:, ~rest].reshape(-1), symbols[0][:, rest].reshape(-1)])
        indexes = torch.cat([side.idx[0][:, ~rest].reshape(-1), idx2.reshape(-1)])
        return self.y_coder.encode(order, indexes), symbols

    def parse_latent(self, stream: bytes, side: Side, q16: int) -> tuple[Tensor, Tensor]:
        read = self.y_coder.reader(stream, side.idx.numel())
        anchor = anchor_mask(*side.idx.shape[-2:])[0, 0]
        symbols = torch.zeros_like(side.idx)
        symbols[0][:, anchor] = read(side.idx[0][:, anchor])
        rest, idx2, mu2 = self._second_pass(symbols, side, q16)
        symbols[0][:, rest] = read(idx2)
        mu_g = side.mu_g.clone()
        mu_g[0][:, rest] = mu2
        return symbols, mu_g


def export(context: CheckerboardContext, base_hash: str, path: Path, provenance: dict | None = None) -> Path:
    """A trained context model -> its weights file: fp16 parameters, its config, and the SHA-256 (hex) of the
    ``hyperprior`` weights it was trained for (not copied: the hash pins them)."""
    params = weights.half(context.state_dict())
    context.load_state_dict({k: v.float() for k, v in params.items()})
    IntCheckerboard(context)  # raises if a layer could leave the exact range
    meta = {"family": "context", "config": json.dumps(context.config.to_dict()), "base_sha256": base_hash}
    return weights.write(path, params, meta, provenance)


def load(path: Path, device: str, base: HyperpriorCodec) -> CheckerboardCodec:
    """Context weights file -> a ready ``CheckerboardCodec`` over ``base``, the loaded hyperprior it was
    trained for (the registry checks the pinned hash)."""
    meta = weights.weights_metadata(path)
    context = CheckerboardContext(ContextConfig.from_dict(json.loads(meta["config"])))
    context.load_state_dict({k: v.float() for k, v in weights.read_tensors(path).items()})
    return CheckerboardCodec(base, context)
