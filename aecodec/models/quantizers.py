"""Codebook quantizers for the VQ-VAE codec: vector quantization (VQ-VAE, van den Oord et al. 2017) and finite
scalar quantization (FSQ, Mentzer et al. 2023).

``VectorQuantizer`` keeps the VQ-VAE recipe that works in practice: a straight-through estimator, the commitment
loss (the codebook loss too when the codebook is learned by gradient), EMA codebook updates, k-means
initialisation from the first batch and restarts of dead codes from current data. ``FSQ`` needs none of that:
each dimension is bounded and rounded to a few levels, and the index is the mixed-radix number of the levels.
Both map vectors in the last dimension of a tensor.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class VQOutput:
    quantized: Tensor  # straight-through: the codeword forward, the identity backward
    indices: Tensor  # int64, the input's shape without the last dimension
    loss: Tensor  # commitment (+ codebook, without EMA) loss, a scalar to add to the training loss
    perplexity: Tensor  # exp(entropy of the batch's code usage): K when every code is used equally


def kmeans(x: Tensor, k: int, iterations: int = 10, generator: torch.Generator | None = None) -> Tensor:
    """Lloyd's k-means on rows of ``x`` [n, d] -> centers [k, d], seeded by k-means++ (each new center drawn
    with probability proportional to the squared distance to the nearest one so far); an empty cluster keeps
    its previous center."""
    first = torch.randint(len(x), (1,), generator=generator).item()
    centers = [x[first]]
    d2 = (x - x[first]).pow(2).sum(1)
    for _ in range(1, k):
        weights = d2.cpu().double() + 1e-12
        pick = torch.multinomial(weights, 1, generator=generator).item()
        centers.append(x[pick])
        d2 = torch.minimum(d2, (x - x[pick]).pow(2).sum(1))
    centers = torch.stack(centers).clone()
    for _ in range(iterations):
        assign = torch.cdist(x, centers).argmin(1)
        sums = torch.zeros_like(centers).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).to(x.dtype)
        filled = counts > 0
        centers[filled] = sums[filled] / counts[filled, None]
    return centers


class VectorQuantizer(nn.Module):
    """Nearest-codeword quantization of ``dim``-vectors with a ``size``-entry codebook.

    ``ema=True``: the codebook follows exponential moving averages of its assigned vectors (no codebook loss);
    ``ema=False``: it learns from the codebook loss ||sg[x] - e||^2. The encoder always gets the commitment loss
    ``commitment * ||x - sg[e]||^2``. Codes whose EMA usage falls below ``dead_below`` are restarted from random
    vectors of the current batch."""

    def __init__(self, dim: int, size: int, commitment: float = 0.25, ema: bool = True, decay: float = 0.99,
                 eps: float = 1e-5, kmeans_init: bool = True, dead_below: float = 1e-3):
        super().__init__()
        self.dim, self.size = dim, size
        self.commitment, self.ema, self.decay, self.eps = commitment, ema, decay, eps
        self.dead_below = dead_below
        self.codebook = nn.Parameter(torch.randn(size, dim) / math.sqrt(dim), requires_grad=not ema)
        self.register_buffer("ema_count", torch.ones(size))
        self.register_buffer("ema_sum", self.codebook.detach().clone())
        self.register_buffer("initialized", torch.tensor(not kmeans_init))

    def nearest(self, flat: Tensor) -> Tensor:
        """Index of the closest codeword of each row of ``flat`` [n, dim]."""
        return torch.cdist(flat, self.codebook.detach()).argmin(1)

    def lookup(self, indices: Tensor) -> Tensor:
        return F.embedding(indices, self.codebook)

    def forward(self, x: Tensor) -> VQOutput:
        flat = x.reshape(-1, self.dim)
        if self.training and not bool(self.initialized):
            self._init_from(flat.detach())
        indices = self.nearest(flat.detach())
        if self.training and self.ema:
            self._ema_update(flat.detach(), indices)
        e = self.lookup(indices)
        loss = self.commitment * F.mse_loss(flat, e.detach())
        if not self.ema:
            loss = loss + F.mse_loss(e, flat.detach())
        usage = torch.bincount(indices, minlength=self.size).float() / len(indices)
        perplexity = torch.exp(-(usage * torch.log(usage.clamp_min(1e-12))).sum())
        quantized = flat + (e - flat).detach()
        return VQOutput(quantized.reshape(x.shape), indices.reshape(x.shape[:-1]), loss, perplexity)

    @torch.no_grad()
    def _init_from(self, flat: Tensor) -> None:
        """k-means on the first batch; with fewer vectors than codes, random vectors of the batch."""
        if len(flat) >= self.size:
            centers = kmeans(flat, self.size)
        else:
            centers = flat[torch.randint(len(flat), (self.size,), device=flat.device)]
        self.codebook.data.copy_(centers)
        self.ema_sum.copy_(centers)
        self.ema_count.fill_(1.0)
        self.initialized.fill_(True)

    @torch.no_grad()
    def _ema_update(self, flat: Tensor, indices: Tensor) -> None:
        """N_k <- d N_k + (1-d) n_k;  m_k <- d m_k + (1-d) sum of x assigned to k;  e_k = m_k / N~_k, where N~
        is N with Laplace smoothing (eps) so an unused code never divides by zero."""
        onehot = F.one_hot(indices, self.size).to(flat.dtype)
        self.ema_count.mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(onehot.t() @ flat, alpha=1 - self.decay)
        n = self.ema_count.sum()
        smoothed = (self.ema_count + self.eps) / (n + self.size * self.eps) * n
        self.codebook.data.copy_(self.ema_sum / smoothed[:, None])
        self.restart_dead(flat)

    @torch.no_grad()
    def restart_dead(self, flat: Tensor) -> int:
        """Move codes whose usage share fell below ``dead_below`` onto random vectors of this batch; returns
        how many were restarted."""
        share = self.ema_count / self.ema_count.sum()
        dead = torch.nonzero(share < self.dead_below / self.size).flatten()
        if len(dead):
            pick = flat[torch.randint(len(flat), (len(dead),), device=flat.device)]
            self.codebook.data[dead] = pick
            self.ema_sum[dead] = pick
            self.ema_count[dead] = self.ema_count.sum() / self.size
        return len(dead)

    @torch.no_grad()
    def usage(self, indices: Tensor) -> dict[str, float]:
        """Codebook usage of a set of indices: perplexity and the share of codes used at least once."""
        counts = torch.bincount(indices.flatten(), minlength=self.size).double()
        p = counts / counts.sum()
        entropy = -(p[p > 0] * p[p > 0].log()).sum()
        return {"perplexity": float(entropy.exp()), "used": float((counts > 0).double().mean()),
                "bits": float(entropy / math.log(2))}


class FSQ(nn.Module):
    """Finite scalar quantization: dimension i is bounded to ``levels[i]`` values and rounded (straight-through);
    a vector's index is the mixed-radix number of its levels, so the implicit codebook has prod(levels) entries."""

    def __init__(self, levels: list[int]):
        super().__init__()
        if any(n < 2 for n in levels):
            raise ValueError("every FSQ dimension needs at least 2 levels")
        self.levels = list(levels)
        self.register_buffer("_levels", torch.tensor(levels, dtype=torch.float32))
        basis = torch.cumprod(torch.tensor([1] + levels[:-1], dtype=torch.int64), 0)
        self.register_buffer("_basis", basis)

    @property
    def size(self) -> int:
        return math.prod(self.levels)

    def bound(self, z: Tensor) -> Tensor:
        """Squash each dimension into an interval holding exactly ``levels[i]`` integers after rounding
        (the half-step offset handles even level counts)."""
        half = (self._levels - 1) / 2
        offset = torch.where(self._levels % 2 == 0, 0.5, 0.0)
        shift = torch.atanh(offset / half)
        return torch.tanh(z + shift) * half - offset

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """z [..., len(levels)] -> (codes with a straight-through gradient, indices [...])."""
        b = self.bound(z)
        q = b + (torch.round(b) - b).detach()
        return self.normalize(q), self.indices(q)

    def normalize(self, q: Tensor) -> Tensor:
        """Integer levels -> codes in [-1, 1] (divided by floor(levels / 2), as in the FSQ paper)."""
        return q / torch.floor(self._levels / 2)

    def indices(self, q: Tensor) -> Tensor:
        """Integer levels (as from ``bound`` then round) -> mixed-radix indices."""
        digits = (torch.round(q) + torch.floor((self._levels - 1) / 2) + (self._levels % 2 == 0)).long()
        return (digits * self._basis).sum(-1)

    def codes(self, indices: Tensor) -> Tensor:
        """Indices -> codes in [-1, 1] (the inverse of ``indices`` followed by ``normalize``)."""
        digits = (indices[..., None] // self._basis) % self._levels.long()
        q = digits.float() - torch.floor((self._levels - 1) / 2) - (self._levels % 2 == 0).float()
        return self.normalize(q)
