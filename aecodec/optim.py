"""Training utilities shared by the codecs' training loop and the autoencoder toolkit: learning-rate schedules,
early stopping and gradient checkpointing."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint_sequential


def cosine_lr(step: int, base: float, warmup: int, total: int, min_ratio: float = 0.02) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to ``min_ratio * base`` at ``total``."""
    if step < warmup:
        return base * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def exponential_lr(step: int, base: float, warmup: int, total: int, min_ratio: float = 0.02) -> float:
    """Linear warm-up, then exponential decay reaching ``min_ratio * base`` at ``total``."""
    if step < warmup:
        return base * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * min_ratio ** t


SCHEDULES = {"cosine": cosine_lr, "exponential": exponential_lr}


@dataclass
class EarlyStopping:
    """Tracks the best validation value; ``stop`` turns true after ``patience`` checks without improvement
    (never when patience is 0)."""

    patience: int = 0
    best: float = math.inf
    stale: int = 0

    def update(self, value: float) -> bool:
        """Record a validation value; True when it is a new best."""
        if value < self.best:
            self.best, self.stale = value, 0
            return True
        self.stale += 1
        return False

    @property
    def stop(self) -> bool:
        return bool(self.patience) and self.stale >= self.patience


def checkpointed(seq: nn.Sequential, x: Tensor, segments: int = 2) -> Tensor:
    """Run ``seq``, recomputing its activations in the backward pass when training with gradients (gradient
    checkpointing: less memory for about one more forward pass)."""
    if seq.training and torch.is_grad_enabled():
        return checkpoint_sequential(seq, segments, x, use_reentrant=False)
    return seq(x)
