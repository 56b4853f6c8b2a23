"""Data and measurements for studying autoencoders: corruptions for denoising, a synthetic image set with known
factors, disentanglement metrics (MIG, the beta-VAE metric), the subspace angle to PCA,
anomaly scores, and latent interpolation grids."""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

# -- corruptions (denoising autoencoders) -----------------------------------------------------------------


def gaussian_noise(x: Tensor, sigma: float = 0.2, generator: torch.Generator | None = None) -> Tensor:
    return (x + sigma * torch.randn(x.shape, generator=generator)).clamp(0, 1)


def masking_noise(x: Tensor, p: float = 0.3, generator: torch.Generator | None = None) -> Tensor:
    """Zero a random fraction ``p`` of the entries."""
    return x * (torch.rand(x.shape, generator=generator) >= p)


def salt_pepper_noise(x: Tensor, p: float = 0.2, generator: torch.Generator | None = None) -> Tensor:
    """Set a random fraction ``p`` of the entries to 0 or 1 (half each)."""
    u = torch.rand(x.shape, generator=generator)
    return torch.where(u < p / 2, 0.0, torch.where(u < p, 1.0, x))


CORRUPTIONS = {"gaussian": gaussian_noise, "masking": masking_noise, "salt_pepper": salt_pepper_noise}

# -- synthetic data with known factors --------------------------------------------------------------------

FACTOR_SIZES = (8, 8, 4, 4)  # x position, y position, size, aspect


def render_factors(factors: np.ndarray, side: int = 16) -> np.ndarray:
    """Factor indices [n, 4] -> images [n, side*side] in [0, 1]: an elliptic blob whose position, size and
    aspect are the factors."""
    f = np.asarray(factors, dtype=np.float64)
    cx = 3 + f[:, 0] * (side - 7) / (FACTOR_SIZES[0] - 1)
    cy = 3 + f[:, 1] * (side - 7) / (FACTOR_SIZES[1] - 1)
    size = 1.2 + 0.5 * f[:, 2]
    aspect = 0.6 + 0.3 * f[:, 3]
    yy, xx = np.mgrid[0:side, 0:side]
    d2 = ((xx[None] - cx[:, None, None]) / (size * aspect)[:, None, None]) ** 2 + \
        ((yy[None] - cy[:, None, None]) / (size / aspect)[:, None, None]) ** 2
    return np.exp(-0.5 * d2).reshape(len(f), -1).astype(np.float32)


def factor_dataset() -> tuple[np.ndarray, np.ndarray]:
    """Every factor combination once: (images [1024, 256], factors [1024, 4])."""
    factors = np.array(list(itertools.product(*(range(n) for n in FACTOR_SIZES))))
    return render_factors(factors), factors



# -- measurements -------------------------------------------------------------------------------------------


def subspace_angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Largest principal angle (degrees) between the column spaces of ``a`` and ``b`` [d, k]."""
    qa, _ = np.linalg.qr(a)
    qb, _ = np.linalg.qr(b)
    s = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return float(np.degrees(np.arccos(np.clip(s.min(), -1, 1))))


def _discretize(z: np.ndarray, bins: int = 20) -> np.ndarray:
    out = np.zeros_like(z, dtype=np.int64)
    for j in range(z.shape[1]):
        edges = np.histogram_bin_edges(z[:, j], bins)
        out[:, j] = np.digitize(z[:, j], edges[1:-1])
    return out


def mig(codes: np.ndarray, factors: np.ndarray, bins: int = 20) -> float:
    """Mutual information gap (Chen et al. 2018): for each factor, the gap between the two latent dimensions
    most informative about it, over the factor's entropy; averaged over factors. 1 = each factor in one
    dimension alone."""
    from sklearn.metrics import mutual_info_score

    zd = _discretize(codes, bins)
    gaps = []
    for k in range(factors.shape[1]):
        mi = sorted((mutual_info_score(factors[:, k], zd[:, j]) for j in range(zd.shape[1])), reverse=True)
        h = mutual_info_score(factors[:, k], factors[:, k])
        gaps.append((mi[0] - (mi[1] if len(mi) > 1 else 0.0)) / h)
    return float(np.mean(gaps))


def beta_vae_metric(encode, points: int = 800, pairs: int = 32, seed: int = 0) -> float:
    """The beta-VAE disentanglement metric (Higgins et al. 2017): fix one factor, average |z1 - z2| over pairs
    of images sharing only that factor, and let a linear classifier guess the factor from the average; the
    held-out accuracy is the score (chance = 1 / number of factors). ``encode``: images [n, 256] -> codes."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    sizes = np.array(FACTOR_SIZES)
    feats, labels = [], []
    for _ in range(points):
        k = rng.integers(len(sizes))
        f1 = rng.integers(0, sizes, (pairs, len(sizes)))
        f2 = rng.integers(0, sizes, (pairs, len(sizes)))
        f2[:, k] = f1[:, k]
        z1, z2 = encode(render_factors(f1)), encode(render_factors(f2))
        feats.append(np.abs(z1 - z2).mean(0))
        labels.append(k)
    feats, labels = np.array(feats), np.array(labels)
    half = points // 2
    clf = LogisticRegression(max_iter=2000).fit(feats[:half], labels[:half])
    return float(clf.score(feats[half:], labels[half:]))


def anomaly_report(train_errors: np.ndarray, test_errors: np.ndarray, test_labels: np.ndarray) -> dict:
    """ROC AUC of reconstruction error as an anomaly score, and precision/recall at the threshold set by the
    95th percentile of the (normal) training errors."""
    from sklearn.metrics import roc_auc_score

    threshold = float(np.percentile(train_errors, 95))
    flagged = test_errors > threshold
    tp = int((flagged & test_labels).sum())
    return {"roc_auc": float(roc_auc_score(test_labels, test_errors)), "threshold": threshold,
            "precision": tp / max(1, int(flagged.sum())), "recall": tp / max(1, int(test_labels.sum()))}




def save_grid(images: np.ndarray, path: Path, side: int) -> None:
    """Rows x cols of flattened ``side`` x ``side`` images [rows, cols, side*side] -> one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols = images.shape[:2]
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.8, rows * 0.8), squeeze=False)
    for r in range(rows):
        for c in range(cols):
            axes[r][c].imshow(images[r, c].reshape(side, side), cmap="gray", vmin=0, vmax=1)
            axes[r][c].axis("off")
    fig.tight_layout(pad=0.1)
    fig.savefig(path, dpi=100)
    plt.close(fig)
