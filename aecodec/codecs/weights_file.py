"""Weights files: safetensors (fp16 transforms, int32 fixed-point gains and CDF tables) whose metadata says the
family and config, whose SHA-256 every bitstream records, and whose provenance JSON sits beside them.

Torch-free on purpose: ``aecodec info`` and the weights checks run before any model loads.
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic import write_atomic
from ..errors import ModelMismatchError

if TYPE_CHECKING:
    from torch import Tensor

@lru_cache(maxsize=None)
def _sha256(path: Path, mtime_ns: int, size: int) -> bytes:
    return hashlib.sha256(path.read_bytes()).digest()


def file_hash(path: str | Path) -> bytes:
    """SHA-256 of a weights file: its identity in bitstreams (the first 8 bytes) and in provenance. Cached per
    (path, modification time, size), so a rewritten file is hashed again."""
    p = Path(path).resolve()
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ModelMismatchError(f"no such weights file: {p}") from None
    return _sha256(p, st.st_mtime_ns, st.st_size)


def weights_metadata(path: str | Path) -> dict[str, str]:
    """The metadata of a weights file, read from its header alone (no tensor is loaded)."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if not 2 <= n < 1 << 26:
                raise ValueError("bad header length")
            header = json.loads(f.read(n))
    except FileNotFoundError:
        raise ModelMismatchError(f"no such weights file: {p}") from None
    except IsADirectoryError:
        raise ModelMismatchError(f"{p} is a folder, not a weights file") from None
    except (OSError, ValueError, UnicodeDecodeError):
        raise ModelMismatchError(f"{p} is not an aecodec weights file (not safetensors)") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or "family" not in meta:
        raise ModelMismatchError(f"{p} is not an aecodec weights file (no family in its metadata)")
    return meta


def read_tensors(path: Path) -> dict[str, Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def half(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Parameters as stored: fp16, contiguous, detached."""
    return {k: v.detach().half().contiguous() for k, v in state.items()}


def write(path: Path, tensors: dict[str, Tensor], meta: dict[str, str], provenance: dict | None) -> Path:
    """Save a weights file (and its provenance JSON beside it, when given), each written atomically."""
    from safetensors.torch import save

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, save(tensors, metadata=meta))
    if provenance is not None:
        write_atomic(path.with_suffix(".json"), (json.dumps(provenance, indent=1) + "\n").encode())
    return path
