"""Gain units (Cui et al., arXiv 2003.02012): how one network serves every quality.

Quality is stored in ``QUALITY_STEPS`` steps a level (``quality16``): fractional qualities interpolate between
trained levels. The gains parsing depends on (the latent's gain, the inverse hyper gain) are integer tables
interpolated in integers, identical on every machine; the gains that touch only encoder choices or pixels are
float and interpolated geometrically. Single-rate models (imported CompressAI models) use ``UnitGains``.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from ..coding.fixedpoint import FRAC_A, FRAC_G
from ..format.container import QUALITY_STEPS


class Gains:
    """Per-level gains of a variable-rate model: integer tables [L, C] (``FRAC_G`` / ``FRAC_A`` fixed point)
    and float log tables [L, C] on the model's device."""

    def __init__(self, latent_fixed: Tensor, inv_hyper_fixed: Tensor, log_inverse: Tensor, log_hyper: Tensor,
                 lambdas: tuple[float, ...], device: torch.device | str = "cpu"):
        self.latent_fixed, self.inv_hyper_fixed = latent_fixed.long().cpu(), inv_hyper_fixed.long().cpu()
        self.log_inverse, self.log_hyper = log_inverse.detach().to(device), log_hyper.detach().to(device)
        self.lambdas = lambdas

    @property
    def levels(self) -> int:
        return self.latent_fixed.shape[0]

    def split(self, quality16: int) -> tuple[int, int]:
        """quality16 -> (lower level, 1/16 steps towards the next), the top level reached from below."""
        lo, frac = divmod(quality16 - QUALITY_STEPS, QUALITY_STEPS)
        if lo >= self.levels - 1:
            lo, frac = self.levels - 2, QUALITY_STEPS
        return lo, frac

    def interpolate(self, table: Tensor, quality16: int) -> Tensor:
        """Integer linear interpolation of a per-level table [L, C] between levels: identical everywhere."""
        lo, frac = self.split(quality16)
        return (table[lo] * (QUALITY_STEPS - frac) + table[lo + 1] * frac + QUALITY_STEPS // 2) // QUALITY_STEPS

    def _float(self, log_table: Tensor, quality16: int) -> Tensor:
        lo, frac = self.split(quality16)
        t = frac / QUALITY_STEPS
        return ((1 - t) * log_table[lo] + t * log_table[lo + 1]).exp()[None, :, None, None]

    def latent_int(self, quality16: int) -> Tensor:
        """The latent's gain [M], FRAC_G fixed point: what the decoder scales means and scales by."""
        return self.interpolate(self.latent_fixed, quality16)

    def inv_hyper_int(self, quality16: int) -> Tensor:
        """The inverse hyper gain [N], FRAC_A fixed point: applied to z symbols before the hyper-synthesis."""
        return self.interpolate(self.inv_hyper_fixed, quality16)

    def latent(self, quality16: int) -> Tensor:
        """The latent's integer gain as float64 [1, M, 1, 1]: what the encoder multiplies latents by."""
        return self.latent_int(quality16).to(torch.float64)[None, :, None, None] / (1 << FRAC_G)

    def inverse(self, quality16: int) -> Tensor:
        """Float gain [1, M, 1, 1] taking a decoded gained latent back to the synthesis' scale."""
        return self._float(self.log_inverse, quality16)

    def hyper(self, quality16: int) -> Tensor:
        """Float gain [1, N, 1, 1] of the hyper-latent (encoder side)."""
        return self._float(self.log_hyper, quality16)

    def lmbda(self, quality16: int) -> float:
        """The rate-distortion trade-off a quality stands for (geometric between trained levels)."""
        lo, frac = self.split(quality16)
        t = frac / QUALITY_STEPS
        return math.exp((1 - t) * math.log(self.lambdas[lo]) + t * math.log(self.lambdas[lo + 1]))


class UnitGains(Gains):
    """A single-rate model: every gain is one, so coding is the model's own (symbols offset from its means)."""

    def __init__(self, M: int, N: int, device: torch.device | str = "cpu"):
        super().__init__(torch.full((1, M), 1 << FRAC_G), torch.full((1, N), 1 << FRAC_A), torch.zeros(1, M),
                         torch.zeros(1, N), (1.0,), device)

    def interpolate(self, table: Tensor, quality16: int) -> Tensor:
        return table[0]

    def _float(self, log_table: Tensor, quality16: int) -> Tensor:
        return torch.ones(1, log_table.shape[1], 1, 1, device=log_table.device)

    def lmbda(self, quality16: int) -> float:
        return self.lambdas[0]
