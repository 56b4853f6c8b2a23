"""k-means of vectors: the start of the VQ-VAE codec's codebooks (then trained for rate and distortion)."""
from __future__ import annotations

import torch
from torch import Tensor


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
