"""Float arrays in and out (``.npy``), the array codecs' counterpart of ``aecodec.image``."""
from __future__ import annotations

import io

import numpy as np

from .errors import InputImageError


def load_array(src) -> np.ndarray:
    """A .npy file (or array) -> float64 1-D/2-D array; anything else is an ``InputImageError``-style refusal."""
    try:
        a = np.load(src, allow_pickle=False) if not isinstance(src, np.ndarray) else src
    except (OSError, ValueError) as e:
        raise InputImageError(f"cannot read array {src}: {e}") from None
    if a.ndim not in (1, 2) or not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise InputImageError(f"need a 1-D or 2-D real array, got shape {a.shape} dtype {a.dtype}")
    if not np.all(np.isfinite(a)):
        raise InputImageError("array holds NaN or infinity")
    return a


def to_npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()
