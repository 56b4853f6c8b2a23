"""The one registry: codec name -> stable numeric id, weights, qualities, loader.

Ids are written here by hand and never reused: they are part of the file format (docs/format.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

from .errors import ModelMismatchError, UnknownCodecError
from .codecs.weights import WEIGHTS_DIR, file_hash, load_context, load_hyperprior, load_signal, load_vqvae


@dataclass(frozen=True)
class CodecInfo:
    """A registered codec. ``qualities`` are the trained levels; fractional qualities in between also work."""

    name: str
    codec_id: int
    weights: str
    qualities: tuple[int, ...]
    default_quality: int
    description: str
    loader: Callable
    kind: str = "image"  # "image" codecs code pictures; "array" codecs code float arrays (aecodec.encode_array)
    fractional: bool = True  # whether qualities between the trained levels work (1/16 steps)
    effort: bool = True  # whether encoder effort levels (latent refinement) apply

    @property
    def weights_path(self) -> Path:
        return WEIGHTS_DIR / self.weights

    @property
    def weights_hash(self) -> bytes:
        """First 8 bytes of the weights file's SHA-256, as recorded in bitstreams."""
        return file_hash(self.weights_path)[:8]

    def load(self, device: str = "cpu"):
        """The ready-to-code codec (cached per device)."""
        return _load(self.name, device)


_REGISTRY: dict[str, CodecInfo] = {}


def register(info: CodecInfo) -> CodecInfo:
    if info.name in _REGISTRY or any(c.codec_id == info.codec_id for c in _REGISTRY.values()):
        raise ValueError(f"duplicate codec name or id: {info.name} / {info.codec_id}")
    _REGISTRY[info.name] = info
    return info


def list_codecs(kind: str | None = None) -> list[CodecInfo]:
    """Registered codecs (of one ``kind``, "image" or "array", when given), the default first."""
    return [c for c in _REGISTRY.values() if kind is None or c.kind == kind]


def get_codec(name: str | None) -> CodecInfo:
    if name is None:
        return list_codecs()[0]
    try:
        return _REGISTRY[name]
    except KeyError:
        names = ", ".join(_REGISTRY)
        raise UnknownCodecError(f"unknown codec {name!r} (available: {names})") from None


def codec_by_id(codec_id: int) -> CodecInfo:
    for info in _REGISTRY.values():
        if info.codec_id == codec_id:
            return info
    raise ModelMismatchError(f"bitstream uses codec id {codec_id}, which this aecodec does not know "
                             "(written by a newer version?)")


@lru_cache(maxsize=None)
def _load(name: str, device: str):
    info = _REGISTRY[name]
    if not info.weights_path.exists():
        raise ModelMismatchError(f"weights of codec {name!r} are missing: {info.weights_path}")
    return info.loader(info.weights_path, device)


# The first registered codec is the default.
register(CodecInfo(
    name="hyperprior-ctx", codec_id=5, weights="hyperprior_ctx.safetensors", qualities=tuple(range(1, 11)),
    default_quality=6, loader=load_context,
    description="the hyperprior plus a checkerboard context model (half the latents predicted from the other "
                "half, two-pass decoding): the same pixels as hyperprior in 0.5-3.7% fewer bytes",
))

register(CodecInfo(
    name="hyperprior", codec_id=1, weights="hyperprior.safetensors", qualities=tuple(range(1, 11)),
    default_quality=6, loader=load_hyperprior,
    description="variable-rate mean-scale hyperprior (GDN, gain units), MSE-trained",
))

register(CodecInfo(
    name="hyperprior-msssim", codec_id=4, weights="hyperprior_msssim.safetensors", qualities=tuple(range(1, 11)),
    default_quality=6, loader=load_hyperprior,
    description="the hyperprior fine-tuned for MS-SSIM (lambda x (1 - MS-SSIM) + bpp); 200 CPU steps so far",
))

register(CodecInfo(
    name="vqvae", codec_id=3, weights="vqvae.safetensors", qualities=(1, 2, 3, 4, 5), default_quality=3,
    loader=load_vqvae, fractional=False, effort=False,
    description="VQ-VAE: hyperprior transforms, entropy-constrained vector quantization of latent pairs, "
                "constriction-coded indices under hyper-latent-conditioned priors",
))

register(CodecInfo(
    name="signal", codec_id=2, weights="signal.safetensors", qualities=(1,), default_quality=1,
    loader=load_signal, kind="array",
    description="error-bounded float arrays (time series, sensor data): dense autoencoder + residual, .npy in",
))
