"""Quantized CDF tables: built once from trained entropy models, stored as integers in weights files.

Tables are built once, when weights are exported, from the trained entropy models, and stored in the weights
file as int32: the decoder never evaluates a float density to parse, so parsing cannot depend on the machine.
Building them uses CompressAI's entropy models and CDF quantizer, imported only then; reading them needs nothing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from compressai.entropy_models import EntropyBottleneck

PRECISION = 16  # CDF precision in bits (CompressAI's rANS default)
SCALE_MIN, SCALE_MAX, SCALE_LEVELS = 0.11, 256.0, 64
TAIL_MASS = 1e-9


@dataclass
class CdfTable:
    """``n`` quantized CDFs; symbol ``s`` under table ``i`` is coded as ``s - offsets[i]`` (out-of-range values
    go through the coder's escape mechanism, so any integer round-trips)."""

    cdfs: Tensor  # int32 [n, max_len], each row zero-padded
    lengths: Tensor  # int32 [n], CDF lengths (pmf length + 2)
    offsets: Tensor  # int32 [n]

    def as_lists(self) -> tuple[list[list[int]], list[int], list[int]]:
        lengths = self.lengths.tolist()
        cdfs = [row[:n] for row, n in zip(self.cdfs.tolist(), lengths)]
        return cdfs, lengths, self.offsets.tolist()


def _quantize_pmfs(pmfs: list[Tensor], tails: list[float], offsets: list[int]) -> CdfTable:
    from compressai._CXX import pmf_to_quantized_cdf

    rows = [pmf_to_quantized_cdf(p.tolist() + [t], PRECISION) for p, t in zip(pmfs, tails)]
    width = max(len(r) for r in rows)
    cdfs = torch.zeros(len(rows), width, dtype=torch.int32)
    for i, r in enumerate(rows):
        cdfs[i, : len(r)] = torch.tensor(r, dtype=torch.int32)
    return CdfTable(cdfs, torch.tensor([len(r) for r in rows], dtype=torch.int32),
                    torch.tensor(offsets, dtype=torch.int32))


def scale_table() -> Tensor:
    """Log-spaced Gaussian scales of the conditional tables (CompressAI's default grid)."""
    return torch.exp(torch.linspace(math.log(SCALE_MIN), math.log(SCALE_MAX), SCALE_LEVELS, dtype=torch.float64))


@torch.no_grad()
def gaussian_tables() -> CdfTable:
    """One zero-mean discretized Gaussian per scale of ``scale_table()``."""
    scales = scale_table()
    tables, tails, offsets = [], [], []
    normal = torch.distributions.Normal(0.0, 1.0)
    multiplier = -normal.icdf(torch.tensor(TAIL_MASS / 2, dtype=torch.float64))
    for s in scales:
        center = int(math.ceil(s.item() * multiplier.item()))
        k = torch.arange(-center, center + 1, dtype=torch.float64)
        upper = normal.cdf((k + 0.5) / s)
        lower = normal.cdf((k - 0.5) / s)
        tables.append((upper - lower).float())
        tails.append(float(2 * normal.cdf((-center - 0.5) / s)))
        offsets.append(-center)
    return _quantize_pmfs(tables, tails, offsets)


@torch.no_grad()
def bottleneck_tables(eb: EntropyBottleneck) -> CdfTable:
    """Per-channel tables of a factorized prior over integers, from its learned quantiles."""
    q = eb.quantiles.detach()[:, 0, :]  # [C, 3]: lower tail, median, upper tail
    lo = torch.floor(q[:, 0]).long()
    hi = torch.ceil(q[:, 2]).long()
    lengths = (hi - lo + 1).tolist()
    # one evaluation for every channel: row c holds lo[c], lo[c] + 1, ... (padded); each value depends only on
    # its own channel's parameters, so the padding changes nothing
    samples = (lo[:, None] + torch.arange(max(lengths))[None, :]).float()[:, None, :]
    pmf, lower, upper = eb._likelihood(samples, stop_gradient=True)
    pmfs = [pmf[c, 0, :n] for c, n in enumerate(lengths)]
    tails = [float(torch.sigmoid(lower[c, 0, 0]) + torch.sigmoid(-upper[c, 0, n - 1])) for c, n in enumerate(lengths)]
    return _quantize_pmfs(pmfs, tails, lo.tolist())


def table_tensors(prefix: str, t: CdfTable) -> dict[str, Tensor]:
    return {f"{prefix}.cdfs": t.cdfs, f"{prefix}.lengths": t.lengths, f"{prefix}.offsets": t.offsets}


def table_from_tensors(prefix: str, tensors: dict[str, Tensor]) -> CdfTable:
    return CdfTable(tensors[f"{prefix}.cdfs"], tensors[f"{prefix}.lengths"], tensors[f"{prefix}.offsets"])
