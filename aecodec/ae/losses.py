"""Losses and regularizers of the classic autoencoders, each in the closed form its tests check.

Reconstruction: ``mse``, ``bce`` (binary cross-entropy on logits), ``categorical_ce``. Regularizers: ``l1_sparsity``,
``kl_sparsity`` (Ng's sparse autoencoder), the contractive penalty (Rifai et al. 2011) in closed form for a sigmoid
layer and by autograd for any encoder, and the Gaussian VAE's analytic KL.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def mse(x_hat: Tensor, x: Tensor) -> Tensor:
    return F.mse_loss(x_hat, x)


def bce(logits: Tensor, x: Tensor) -> Tensor:
    """Binary cross-entropy for targets in [0, 1], from logits (numerically stable), summed per sample."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)


def categorical_ce(logits: Tensor, target: Tensor) -> Tensor:
    """Cross-entropy of class logits [B, C, ...] against integer targets [B, ...]."""
    return F.cross_entropy(logits, target)


def l1_sparsity(h: Tensor, weight: float) -> Tensor:
    """weight * mean over samples of ||h||_1."""
    return weight * h.abs().sum(-1).mean()


def kl_sparsity(h: Tensor, rho: float, beta: float) -> Tensor:
    """beta * sum_j KL(rho || rho_hat_j), rho_hat_j the mean activation of unit j over the batch (activations
    in (0, 1), e.g. sigmoid): pushes every unit to be active a fraction ``rho`` of the time."""
    rho_hat = h.mean(0).clamp(1e-6, 1 - 1e-6)
    kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
    return beta * kl.sum()


def contractive_sigmoid(h: Tensor, weight: Tensor) -> Tensor:
    """||J||_F^2 of h = sigmoid(W x + b), per sample then averaged: sum_j (h_j (1 - h_j))^2 sum_i W_ji^2."""
    return ((h * (1 - h)).pow(2) @ weight.pow(2).sum(1)).mean()


def contractive_autograd(encoder: nn.Module, x: Tensor) -> Tensor:
    """||J||_F^2 of any encoder at each sample (mean over the batch), by exact autograd Jacobians: one
    backward pass per code unit, so use it on small codes."""
    x = x.detach().requires_grad_(True)
    h = encoder(x)
    total = x.new_zeros(())
    for j in range(h.shape[1]):
        g, = torch.autograd.grad(h[:, j].sum(), x, create_graph=True)  # rows are independent samples
        total = total + g.pow(2).flatten(1).sum(1).mean()
    return total


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per sample, summed over latent dimensions."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1)
