"""Where coding reads from and runs on: an input file's bytes and the device, each refused with an
``AecError`` that says why. Torch-free until a device other than the CPU is asked for."""
from __future__ import annotations

from pathlib import Path

from .errors import AecError, InputImageError

__all__ = ["read_input", "resolve_device"]


def read_input(path: Path) -> bytes:
    """A file's bytes, or an ``InputImageError`` that says why not."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputImageError(f"no such file: {path}") from None
    except OSError as e:
        raise InputImageError(f"cannot read {path}: {e.strerror}") from None


def resolve_device(device: str) -> str:
    """``auto`` -> cuda when available, else cpu; an unknown or unavailable device is refused, naming what is
    available, before any model loads."""
    if device == "cpu":
        return device
    if not isinstance(device, str) or not (device in ("auto", "cuda") or _is_cuda_index(device)):
        raise AecError(f"unknown device {device!r:.40}: use cpu, cuda, cuda:N or auto")
    import torch

    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device == "auto":
        return "cuda" if available else "cpu"
    index = int(device.partition(":")[2] or 0)
    if index >= available:
        have = f"{available} CUDA device(s): cuda:0..cuda:{available - 1}" if available else "no CUDA device"
        raise AecError(f"device {device}: this machine has {have} (use cpu)")
    return device


def _is_cuda_index(device: str) -> bool:
    name, colon, index = device.partition(":")
    return name == "cuda" and colon == ":" and index.isdigit()
