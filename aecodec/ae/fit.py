"""One small training loop for every autoencoder of the toolkit, with the codecs' schedules and early stopping.

``loss_fn(model, batch) -> scalar`` carries the variant (denoising, sparse, contractive, VAE, ...), so the loop
itself stays the same: Adam, warm-up then cosine or exponential decay, gradient clipping, optional bf16
autocast, validation with early stopping and best-weights keeping, and a progress bar.
"""
from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import Tensor, nn
from tqdm import tqdm

from ..optim import SCHEDULES, EarlyStopping


def fit(model: nn.Module, loss_fn: Callable[[nn.Module, Tensor], Tensor], data: Tensor, *, steps: int = 1000,
        batch: int = 64, lr: float = 1e-3, schedule: str = "cosine", warmup: int = 0, clip: float = 1.0,
        weight_decay: float = 0.0, val: Tensor | None = None, val_every: int = 100, patience: int = 0,
        amp: bool = False, seed: int = 0, progress: bool = False, desc: str = "fit") -> dict:
    """Train ``model`` on rows of ``data`` (random mini-batches, seeded). With ``val`` the weights of the best
    validation loss are restored at the end. Returns {"train": last loss, "val": best val loss, "steps"}."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay) if weight_decay else \
        torch.optim.Adam(model.parameters(), lr=lr)
    lr_fn = SCHEDULES[schedule]
    stopper = EarlyStopping(patience)
    best_state = None
    device_type = data.device.type
    model.train()
    bar = tqdm(range(steps), desc=desc, disable=not progress, dynamic_ncols=True, mininterval=1)
    loss = torch.zeros(())
    step = 0
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = lr_fn(step, lr, warmup, steps)
        idx = torch.randint(len(data), (min(batch, len(data)),), generator=gen).to(data.device)
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=amp):
            loss = loss_fn(model, data[idx])
        opt.zero_grad(set_to_none=True)
        loss.float().backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        if val is not None and ((step + 1) % val_every == 0 or step + 1 == steps):
            v = evaluate(model, loss_fn, val)
            if stopper.update(v):
                best_state = copy.deepcopy(model.state_dict())
            bar.set_postfix(loss=f"{loss.item():.4f}", val=f"{v:.4f}")
            if stopper.stop:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return {"train": loss.item(), "val": stopper.best if val is not None else None, "steps": step + 1}


@torch.no_grad()
def evaluate(model: nn.Module, loss_fn: Callable[[nn.Module, Tensor], Tensor], data: Tensor,
             batch: int = 512) -> float:
    """Mean loss over ``data`` in eval mode (then back to train mode)."""
    model.eval()
    total = sum(loss_fn(model, data[i:i + batch]).item() * len(data[i:i + batch]) for i in range(0, len(data), batch))
    model.train()
    return total / len(data)
