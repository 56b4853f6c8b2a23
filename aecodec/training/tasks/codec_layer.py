"""Every use the training tasks make of the codec layer (the registry, loaded codecs, weights files, the codecs'
exporters and the vqvae codec's coding functions its codebooks train through), each behind one name here, so that
a change of that layer is met in this module alone.

Of a registry entry the tasks read only ``name``, ``family``, ``base`` and ``weights_path``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ...codecs.avif import LEVELS as AVIF_LEVELS
from ...codecs.avif import SPEED as AVIF_SPEED
from ...codecs.avif import avif_bytes, avif_pixels, avif_quality
from ...codecs.avif import export as export_avif_filter
from ...codecs.checkerboard import export as export_context
from ...codecs.composed import ComposedCodec
from ...codecs.hyperprior import export as export_hyperprior
from ...codecs.hyperprior import read_model
from ...codecs.postfilter import export as export_postfilter
from ...codecs.signal import export as export_signal
from ...codecs.vq import CLASSES as VQ_CLASSES
from ...codecs.vq import LAGRANGE as VQ_LAGRANGE
from ...codecs.vq import ec_assign, latent_pairs, unpair
from ...codecs.vq import export as export_vqvae
from ...codecs.weights_file import file_hash, read_tensors, weights_metadata
from ...errors import ModelMismatchError
from ...format.container import QUALITY_STEPS
from ...models.hyperprior import Hyperprior
from ...registry import get_codec
from ...variants import load as load_variant

__all__ = ["AVIF_LEVELS", "AVIF_SPEED", "ComposedCodec", "QUALITY_STEPS", "VQ_CLASSES", "VQ_LAGRANGE",
           "avif_round_trip", "decoded", "ec_assign", "export_avif_filter", "export_context",
           "export_hyperprior", "export_postfilter", "export_signal", "export_vqvae", "get_codec",
           "hyperprior_of", "latent_pairs", "load_base_model", "load_codec", "read_model", "read_weights",
           "shipped_sha256", "unpair", "weights_family", "weights_sha256"]


def hyperprior_of(name: str) -> str:
    """The hyperprior a codec builds on: itself, or the first of its bases of the hyperprior family."""
    info = get_codec(name)
    while info.family != "hyperprior":
        info = get_codec(info.base)
    return info.name


def load_codec(name: str, device: str = "cpu", weights: Path | None = None) -> Any:
    """The loaded codec ``name``, with its shipped weights or a compatible ``weights`` file."""
    return load_variant(get_codec(name), device, weights)


def load_base_model(name: str, device: str) -> Hyperprior:
    """The float model (``Hyperprior``, with its entropy models) of the hyperprior codec ``name`` as shipped."""
    return read_model(get_codec(name).weights_path, entropy_models=True).to(device)


def weights_sha256(path: Path) -> str:
    """The SHA-256 (hex) of a weights file: what a dependent weights file pins its base by."""
    return file_hash(path).hex()


def shipped_sha256(name: str) -> str:
    """The SHA-256 (hex) of the codec ``name``'s shipped weights file."""
    return weights_sha256(get_codec(name).weights_path)


def weights_family(path: Path) -> str:
    """The family a weights file's metadata names."""
    return weights_metadata(path)["family"]


def avif_round_trip(pixels: np.ndarray, quality16: int) -> np.ndarray:
    """HxWx3 uint8 pixels -> the pixels ``avif-pf``'s AVIF stage decodes them to at ``quality16``."""
    return avif_pixels(avif_bytes(np.ascontiguousarray(pixels), avif_quality(quality16)))


def read_weights(path: Path, family: str) -> tuple[dict, dict[str, Tensor]]:
    """(config, float parameters) of a weights file, which must hold ``family`` weights."""
    meta = weights_metadata(path)
    if meta["family"] != family:
        raise ModelMismatchError(f"{path.name} holds {meta['family']} weights, not {family} weights")
    tensors = {k: v.float() for k, v in read_tensors(path).items() if not k.startswith(("fixed.", "table."))}
    return json.loads(meta.get("config", "{}")), tensors


@torch.no_grad()
def decoded(codec: Any, y: Tensor, level: int, device: torch.device) -> Tensor:
    """One latent [1, M, h, w] -> the synthesis output ``codec`` decodes from it at ``level`` (0-based; integer
    hyper path and the codec's own quantization), before clamping, fp16 on the CPU."""
    q16 = QUALITY_STEPS * (level + 1)
    latents = codec.latents.to_synthesis(codec.latents.quantized(y.float().to(device), q16), q16, codec.device)
    return codec.transforms.synthesize(latents).half().cpu()
