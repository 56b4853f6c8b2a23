"""Training utilities shared by the codecs' training loop and the autoencoder toolkit: learning-rate schedules,
early stopping and a weight EMA."""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn


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



class WeightEMA:
    """An exponential moving average of a model's parameters, for evaluation and export: the average of the
    last ~1/(1-decay) steps sits nearer the minimum than the noisy last iterate, at no training cost.
    ``shadow <- d * shadow + (1 - d) * param`` after every optimizer step, with ``d = min(decay, (1 + n) / (10 + n))``
    at the n-th update (TensorFlow's warm-up rule): a run from scratch gets an average of recent weights, not of
    its random initialisation."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.updates = 0
        self.shadow = {n: p.detach().clone() for n, p in model.named_parameters()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for n, p in model.named_parameters():
            self.shadow[n].lerp_(p.detach(), 1.0 - d)
        self.updates += 1

    def state_dict(self) -> dict:
        return {"shadow": dict(self.shadow), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        for n, t in state["shadow"].items():
            self.shadow[n].copy_(t)
        self.updates = state["updates"]

    @contextmanager
    def applied(self, model: nn.Module):
        """Temporarily put the averaged weights into ``model`` (validation, saving), then restore the live ones."""
        live = {n: p.detach().clone() for n, p in model.named_parameters()}
        params = dict(model.named_parameters())
        with torch.no_grad():
            for n, t in self.shadow.items():
                params[n].copy_(t)
        try:
            yield model
        finally:
            with torch.no_grad():
                for n, t in live.items():
                    params[n].copy_(t)
