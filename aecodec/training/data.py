"""In-memory crop sets for training, the cache of the data a run derives once, and synthetic signals; named
datasets and the train/validation split come from ``aecodec.datasets`` (re-exported here).

Training keeps its crops in memory as one uint8 tensor: on 2 CPU cores JPEG decoding per step would cost as much
as the step, and on a GPU the whole set fits in device memory. A *pack* stores such crops as JPEG (q95, 4:4:4)
in one ``.npz`` file, small enough to carry to a GPU machine.
"""
from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

from ..atomic import write_atomic
from ..datasets import (  # noqa: F401  (the datasets' names, where training's callers import them)
    IMAGE_SUFFIXES,
    DatasetSpec,
    datasets_toml,
    is_validation,
    load_datasets,
    resolve_images,
    split,
)
from ..errors import AecError


def random_crops(paths: list[Path], size: int, per_image: int, seed: int) -> torch.Tensor:
    """Random ``size``-square RGB crops, uint8 [N, size, size, 3]; images with a short side >= 2*size are
    first halved (antialiased), which also washes out JPEG artefacts of the sources."""
    rng = np.random.default_rng(seed)
    crops = []
    for path in paths:
        im = Image.open(path).convert("RGB")
        if min(im.size) >= 2 * size:
            im = im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)
        if min(im.size) < size:
            scale = size / min(im.size)
            im = im.resize((max(size, round(im.width * scale)), max(size, round(im.height * scale))),
                           Image.Resampling.LANCZOS)
        a = np.asarray(im)
        for _ in range(per_image):
            top = rng.integers(0, a.shape[0] - size + 1)
            left = rng.integers(0, a.shape[1] - size + 1)
            crops.append(a[top:top + size, left:left + size])
    return torch.from_numpy(np.stack(crops))


def _encode_crops(crops: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    blobs = []
    for c in crops.numpy():
        buf = io.BytesIO()
        Image.fromarray(c).save(buf, "JPEG", quality=95, subsampling=0)
        blobs.append(np.frombuffer(buf.getvalue(), dtype=np.uint8))
    offsets = np.cumsum([0] + [len(b) for b in blobs])
    return np.concatenate(blobs), offsets


def _decode_crops(data: np.ndarray, offsets: np.ndarray) -> torch.Tensor:
    ims = [np.asarray(Image.open(io.BytesIO(data[a:b].tobytes())).convert("RGB"))
           for a, b in zip(offsets[:-1], offsets[1:])]
    return torch.from_numpy(np.stack(ims))


def save_pack(path: Path, train: torch.Tensor, val: torch.Tensor) -> None:
    tdata, toff = _encode_crops(train)
    vdata, voff = _encode_crops(val)
    np.savez(path, train=tdata, train_offsets=toff, val=vdata, val_offsets=voff)


def load_pack(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    with np.load(path) as z:
        return _decode_crops(z["train"], z["train_offsets"]), _decode_crops(z["val"], z["val_offsets"])


def image_crops(data: str, patch: int, crop: int, crops_per_image: int,
                seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(training, validation) crops, uint8 [N, S, S, 3]: a pack's as stored, else random crops of side
    max(patch, crop) cut once from the split of a dataset or folder (a folder too small to have validation
    images of its own validates on its first image)."""
    if data.endswith(".npz"):
        train, val = load_pack(Path(data))
    else:
        tr, va = split(resolve_images(data))
        size = max(patch, crop)
        train, val = random_crops(tr, size, crops_per_image, seed), random_crops(va or tr[:1], size, 2, 100)
    if min(train.shape[1:3]) < patch:
        raise AecError(f"--patch {patch} is larger than the {train.shape[1]}px crops of {data}")
    return train, val


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


def signals(n: int, length: int = 64, seed: int = 0, anomalies: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Smooth sensor-like signals: two random sinusoids (1 to 4 cycles per 64 samples, whatever the length) plus
    small noise, [n, length] float32. A fraction ``anomalies`` get a glitch (a spike burst or a level shift over
    a short window); returns (signals, labels)."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / 64
    freq = rng.uniform(1, 4, (n, 2, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 2, 1))
    amp = rng.uniform(0.3, 1.0, (n, 2, 1))
    x = (amp * np.sin(2 * np.pi * freq * t + phase)).sum(1) + 0.02 * rng.standard_normal((n, length))
    labels = rng.random(n) < anomalies
    for i in np.flatnonzero(labels):
        start = rng.integers(0, length - 8)
        if rng.random() < 0.5:
            x[i, start:start + 3] += rng.choice([-1, 1]) * rng.uniform(1.0, 2.0)
        else:
            x[i, start:start + 8] += rng.choice([-1, 1]) * rng.uniform(0.6, 1.0)
    return x.astype(np.float32), labels
