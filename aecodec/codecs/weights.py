"""Shipped weights: one safetensors file per codec (fp16 transforms, int32 fixed-point gains and CDF tables),
its SHA-256 recorded in every bitstream, and provenance JSON beside it."""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from safetensors.torch import load_file, save_file
from torch import Tensor

from ..coding.tables import bottleneck_tables, gaussian_tables, scale_table, table_from_tensors, table_tensors
from ..coding.fixedpoint import FRAC_A, FRAC_G, IntHyperSynthesis, to_fixed
from ..models.hyperprior import Hyperprior, HyperpriorConfig

WEIGHTS_DIR = Path(__file__).parent.parent / "weights"


@lru_cache(maxsize=None)
def file_hash(path: Path) -> bytes:
    """SHA-256 of a weights file: the identity a bitstream records."""
    return hashlib.sha256(path.read_bytes()).digest()


def _write(path: Path, tensors: dict[str, Tensor], meta: dict[str, str], provenance: dict | None) -> Path:
    """Save a weights file (and its provenance JSON beside it, when given); forget cached hashes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=meta)
    if provenance is not None:
        path.with_suffix(".json").write_text(json.dumps(provenance, indent=1) + "\n")
    file_hash.cache_clear()
    return path


def export_hyperprior(state: dict[str, Tensor], config: HyperpriorConfig, path: Path,
                      provenance: dict | None = None) -> Path:
    """Write a trained model as a shippable weights file: fp16 parameters, then everything the decoder needs
    to parse (fixed-point gains, scale thresholds, CDF tables) computed once, here, and stored as integers."""
    model = Hyperprior(config)
    model.load_state_dict(state)
    params = {k: v.detach().half().contiguous() for k, v in model.named_parameters()}
    # Rebuild from the fp16 values so that tables, gains and integer layers match what users load.
    model.load_state_dict({k: v.float() for k, v in params.items()}, strict=False)
    IntHyperSynthesis(model.h_s)  # raises if a layer could leave the exact range
    tensors = dict(params)
    tensors["fixed.gain"] = to_fixed(model.log_gain.detach().exp(), FRAC_G).int()
    tensors["fixed.inv_hyper_gain"] = to_fixed(model.log_inv_hyper_gain.detach().exp(), FRAC_A).int()
    tensors["fixed.scale_bounds"] = to_fixed(scale_table()[:-1], FRAC_A).int()
    tensors.update(table_tensors("table.z", bottleneck_tables(model.entropy_bottleneck)))
    tensors.update(table_tensors("table.y", gaussian_tables()))
    meta = {"family": "hyperprior", "config": json.dumps(config.to_dict())}
    return _write(path, tensors, meta, provenance)


def load_hyperprior(path: Path, device: str = "cpu"):
    """Weights file -> a ready ``HyperpriorCodec``."""
    from safetensors import safe_open

    from .hyperprior import HyperpriorCodec

    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    config = HyperpriorConfig.from_dict(json.loads(meta["config"]))
    tensors = load_file(str(path))
    model = Hyperprior(config)
    float_params = {k: v.float() for k, v in tensors.items() if not k.startswith(("fixed.", "table."))}
    missing, unexpected = model.load_state_dict(float_params, strict=False)
    params = {k for k, _ in model.named_parameters()}
    if unexpected or params.intersection(missing):  # constant buffers are rebuilt by the constructor
        raise ValueError(f"weights file {path} does not match its config: {missing or unexpected}")
    fixed = {k[len("fixed."):]: v for k, v in tensors.items() if k.startswith("fixed.")}
    return HyperpriorCodec(model, fixed, table_from_tensors("table.z", tensors),
                           table_from_tensors("table.y", tensors), device)


def export_context(context, path: Path, provenance: dict | None = None) -> Path:
    """A trained checkerboard context model -> its weights file: fp16 parameters, its config, and the SHA-256 of
    the ``hyperprior`` weights it was trained for (not copied: the hash pins them)."""
    from ..coding.fixedpoint import IntCheckerboard
    from ..registry import get_codec

    params = {k: v.detach().half().contiguous() for k, v in context.state_dict().items()}
    context.load_state_dict({k: v.float() for k, v in params.items()})
    IntCheckerboard(context)  # raises if a layer could leave the exact range
    meta = {"family": "context", "config": json.dumps(context.config.to_dict()),
            "base_sha256": file_hash(get_codec("hyperprior").weights_path).hex()}
    return _write(path, params, meta, provenance)


def load_context(path: Path, device: str = "cpu"):
    """Context weights file -> a ready ``CheckerboardCodec`` over the installed ``hyperprior`` (which must be
    the weights it was trained for)."""
    from safetensors import safe_open

    from .checkerboard import CheckerboardCodec
    from ..models.context import CheckerboardContext, ContextConfig
    from ..registry import get_codec

    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    base = get_codec("hyperprior")
    if file_hash(base.weights_path).hex() != meta["base_sha256"]:
        raise ValueError(f"{path.name} was trained for other weights of the hyperprior codec")
    context = CheckerboardContext(ContextConfig.from_dict(json.loads(meta["config"])))
    context.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()})
    return CheckerboardCodec(base.load(device), context)


def export_signal(model, path: Path, provenance: dict | None = None) -> Path:
    """Signal autoencoder -> fp16 safetensors (the decoder's fixed-point twin is rebuilt from these values)."""
    tensors = {k: v.detach().half().contiguous() for k, v in model.state_dict().items()}
    return _write(path, tensors, {"family": "signal"}, provenance)


def load_signal(path: Path, device: str = "cpu"):
    """Weights file -> a ready ``SignalCodec`` (CPU: the network is tiny and integer on the decoder side)."""
    from .signal import SignalAE, SignalCodec

    model = SignalAE()
    model.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()})
    return SignalCodec(model)


def load_vqvae(path: Path, device: str = "cpu"):
    """Codebook file -> a ready ``VQCodec`` over the shipped hyperprior's transforms."""
    from .vq import load_vq

    return load_vq(path, device)
