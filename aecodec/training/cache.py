"""The cache of the data a training run derives once from frozen weights (latents, decoded crops)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import torch

from ..atomic import write_atomic


def cached(path: Path, key: dict, compute: Callable[[], dict]) -> dict:
    """The dict saved at ``path`` when it was made for ``key``, else ``compute()``'s, saved there with the key
    (through a temporary file): data a run derives once from frozen weights, recomputed when its inputs change."""
    if path.exists():
        found = torch.load(path, weights_only=False)
        if found["key"] == key:
            return found
    t0 = time.time()
    found = {"key": key, **compute()}
    print(f"{path.name}: computed in {time.time() - t0:.0f} s", flush=True)
    write_atomic(path, lambda f: torch.save(found, f))
    return found
