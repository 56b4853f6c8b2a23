"""The checks a weights file passes before any tensor is read (another family's weights, or trained on other
base weights than the installed ones, are refused), and loading its parameters into a model. Torch-free."""
from __future__ import annotations

from pathlib import Path

from ..errors import ModelMismatchError
from .weights_file import file_hash, weights_metadata


def check_family(path: Path, family: str, name: str) -> None:
    """Refuse a weights file of another family than ``family`` or one that names another codec than ``name``
    (a clean error, before any tensor is read)."""
    meta = weights_metadata(path)
    if meta["family"] != family:
        raise ModelMismatchError(f"{Path(path).name} holds {meta.get('codec') or meta['family']} weights, which "
                                 f"codec {name!r} cannot use")


def check_base(path: Path, base_path: Path, base_name: str) -> None:
    """Refuse a dependent weights file (a context model, a filter, codebooks) trained on other weights of its
    base codec than ``base_path``, which it pins by SHA-256."""
    want = weights_metadata(path).get("base_sha256", "")
    have = file_hash(base_path).hex()
    if want != have:
        raise ModelMismatchError(f"{Path(path).name} was trained for other {base_name} weights (sha256 "
                                 f"{want[:16]}...) than the installed ones ({have[:16]}...)")


def load_parameters(model, params: dict, refusal: str) -> None:
    """Load a weights file's float ``params`` into ``model`` (an ``nn.Module``); constant buffers are the
    constructor's. A parameter missing or a tensor left over: ``ModelMismatchError`` "``refusal``: names"."""
    missing, unexpected = model.load_state_dict(params, strict=False)
    lacking = sorted({k for k, _ in model.named_parameters()}.intersection(missing))
    if lacking or unexpected:
        raise ModelMismatchError(f"{refusal}: {lacking or unexpected}")
