"""In-memory crop sets for training, cut once from a dataset's split or read from a pack.

Training keeps its crops in memory as one uint8 tensor: on 2 CPU cores JPEG decoding per step would cost as much
as the step, and on a GPU the whole set fits in device memory. A *pack* stores such crops as JPEG (q95, 4:4:4)
in one ``.npz`` file, small enough to copy to another machine.
"""
from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..datasets import is_validation, resolve_images, split
from ..errors import AecError
from .shards import is_shards, shard_images

CHUNK = 64  # encoded shard images held at once before they are cut


def random_crops(images: Iterable[Path | bytes], size: int, per_image: int, seed: int) -> torch.Tensor:
    """Random ``size``-square RGB crops, uint8 [N, size, size, 3], of image files or encoded images; images with
    a short side >= 2*size are first halved (antialiased), which also washes out JPEG artefacts of the sources."""
    rng = np.random.default_rng(seed)
    crops = []
    for source in images:
        im = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source).convert("RGB")
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


def _shard_crops(pattern: str, size: int, per_image: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(training, validation) crops of tar shards, each image cut as it streams past (at most ``CHUNK`` encoded
    images are held at once); the split is the datasets' split of the members' names. Shards too small to have
    validation images of their own validate on their first image, as a folder does."""
    parts, pending, val, first = [], [], [], None
    for name, data in shard_images(pattern):
        if is_validation(Path(name)):
            val.append(data)
            continue
        first = first or data
        pending.append(data)
        if len(pending) == CHUNK:
            parts.append(random_crops(pending, size, per_image, seed + len(parts)))
            pending.clear()
    if pending:
        parts.append(random_crops(pending, size, per_image, seed + len(parts)))
    if not parts:
        raise AecError(f"{pattern}: its shards hold no training images")
    return torch.cat(parts), random_crops(val or [first], size, 2, 100)


def image_crops(data: str, patch: int, crop: int, crops_per_image: int,
                seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(training, validation) crops, uint8 [N, S, S, 3]: a pack's as stored, else random crops of side
    max(patch, crop) cut once from the split of a dataset or folder (a folder too small to have validation
    images of its own validates on its first image)."""
    if data.endswith(".npz"):
        train, val = load_pack(Path(data))
    elif is_shards(data):
        train, val = _shard_crops(data, max(patch, crop), crops_per_image, seed)
    else:
        tr, va = split(resolve_images(data))
        size = max(patch, crop)
        train, val = random_crops(tr, size, crops_per_image, seed), random_crops(va or tr[:1], size, 2, 100)
    if min(train.shape[1:3]) < patch:
        raise AecError(f"--patch {patch} is larger than the {train.shape[1]}px crops of {data}")
    return train, val
