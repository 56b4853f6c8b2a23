"""Where coding reads from and runs on: an input's bytes (a file, or a URL of any protocol fsspec has:
``http(s)://``, ``s3://``, ``memory://``, ...) and the device, each refused with an ``AecError`` that says why.
Torch-free until a device other than the CPU is asked for."""
from __future__ import annotations

from pathlib import Path

from .errors import AecError, InputImageError, reason

__all__ = ["is_folder", "is_url", "read_input", "resolve_device"]


def is_url(path: object) -> bool:
    """Whether ``path`` names a URL (``protocol://...``) rather than a local file."""
    return isinstance(path, str) and "://" in path


def is_folder(path: Path | str) -> bool:
    """Whether ``path`` (a local path or a URL) is a folder; a URL that cannot be listed is not one."""
    if not is_url(path):
        return Path(path).is_dir()
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(path)
        return bool(fs.isdir(root))
    except Exception:  # no such store, no credentials: the reader reports it
        return False


def read_input(path: Path | str) -> bytes:
    """A file's or a URL's bytes, or an ``InputImageError`` that says why not."""
    if is_url(path):
        return _read_url(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputImageError(f"no such file: {path}") from None
    except OSError as e:
        raise InputImageError(f"cannot read {path}: {e.strerror}") from None


def _read_url(url: str) -> bytes:
    import fsspec

    try:
        with fsspec.open(url, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise InputImageError(f"cannot read {url}: not found, or its server is unreachable") from None
    except Exception as e:  # each protocol's own errors (connection refused, no credentials, no such bucket)
        raise InputImageError(f"cannot read {url}: {reason(e)}") from None


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
