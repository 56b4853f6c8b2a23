"""The one registry, data only: codec name -> stable numeric id, weights file, qualities, base codec, loader.

Ids are written here by hand and never reused: they are part of the file format (docs/format.md). Loaders are
dotted paths, imported only when a codec is first loaded, so ``import aecodec``, ``aecodec list`` and
``aecodec info`` load no network code. The default codec is marked, not implied by order.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .codecs.weights import WEIGHTS_DIR, file_hash, weights_metadata
from .errors import ModelMismatchError, UnknownCodecError


@dataclass(frozen=True)
class CodecInfo:
    """A registered codec. ``qualities`` are the trained levels; with ``fractional`` the 1/16 steps between
    them work too. ``base``: the codec whose weights this one's file builds on (and pins by hash)."""

    name: str
    codec_id: int
    weights: str  # the shipped weights file; "" for codecs whose weights a user brings (--weights FILE)
    family: str  # the "family" a weights file of this codec records in its metadata
    qualities: tuple[int, ...]
    default_quality: int
    description: str
    loader: str  # "module:function" taking (weights path, device) -> a ready codec
    kind: str = "image"  # "image" codecs code pictures; "array" codecs code float arrays
    fractional: bool = True
    effort: bool = True  # whether encoder effort levels (latent refinement) apply
    base: str | None = None
    default: bool = False
    streams: int = 2  # entropy-coded streams per tile (images) or after the parameters (arrays)

    @property
    def weights_path(self) -> Path:
        return WEIGHTS_DIR / self.weights

    @property
    def weights_hash(self) -> bytes:
        """First 8 bytes of the shipped weights file's SHA-256, as recorded in bitstreams."""
        self._require_shipped()
        return file_hash(self.weights_path)[:8]

    def _require_shipped(self) -> None:
        if not self.weights:
            raise ModelMismatchError(f"codec {self.name!r} ships no weights: give the weights file it was made "
                                     "with (--weights FILE, from aecodec import compressai)")

    def hash_of(self, weights: str | Path | None = None) -> bytes:
        """The 8-byte identity a bitstream records for ``weights`` (a compatible file), or the shipped file's."""
        return file_hash(weights)[:8] if weights else self.weights_hash

    def load(self, device: str = "cpu", weights: str | Path | None = None):
        """The ready-to-code codec for the shipped weights or a compatible ``weights`` file (cached)."""
        if not weights:
            self._require_shipped()
        path = Path(weights).resolve() if weights else self.weights_path
        if weights:
            check_weights(self, path)
        elif not path.exists():
            raise ModelMismatchError(f"weights of codec {self.name!r} are missing: {path}")
        return _load(self.name, device, path, file_hash(path))


CODECS: tuple[CodecInfo, ...] = (
    CodecInfo(
        name="hyperprior-ctx-pf3", codec_id=10, weights="hyperprior_ctx_pf3.safetensors", family="postfilter",
        qualities=tuple(range(1, 11)), default_quality=6, base="hyperprior-ctx", default=True,
        loader="aecodec.codecs.postfilter:load",
        description="hyperprior-ctx's symbols (the same entropy-coded bytes) decoded with hyperprior-ctx-pf2's "
                    "filter grown by two more residual blocks and trained on"),
    CodecInfo(
        name="hyperprior-ctx-pf2", codec_id=9, weights="hyperprior_ctx_pf2.safetensors", family="postfilter",
        qualities=tuple(range(1, 11)), default_quality=6, base="hyperprior-ctx",
        loader="aecodec.codecs.postfilter:load",
        description="hyperprior-ctx's symbols (the same entropy-coded bytes) decoded with hyperprior-ctx-pf's "
                    "filter grown by three residual blocks and trained on"),
    CodecInfo(
        name="hyperprior-ctx-pf", codec_id=6, weights="hyperprior_ctx_pf.safetensors", family="postfilter",
        qualities=tuple(range(1, 11)), default_quality=6, base="hyperprior-ctx",
        loader="aecodec.codecs.postfilter:load",
        description="hyperprior-ctx's symbols (the same entropy-coded bytes) decoded with an enhancement filter "
                    "after the synthesis: +0.06 to +0.43 dB at the same size (Kodak BD-rate -6.3%)"),
    CodecInfo(
        name="hyperprior-ctx", codec_id=5, weights="hyperprior_ctx.safetensors", family="context",
        qualities=tuple(range(1, 11)), default_quality=6, base="hyperprior",
        loader="aecodec.codecs.checkerboard:load",
        description="the hyperprior plus a checkerboard context model (half the latents predicted from the other "
                    "half, two-pass decoding): the same pixels as hyperprior in 0.5-3.7% fewer bytes"),
    CodecInfo(
        name="hyperprior", codec_id=1, weights="hyperprior.safetensors", family="hyperprior",
        qualities=tuple(range(1, 11)), default_quality=6, loader="aecodec.codecs.hyperprior:load",
        description="variable-rate mean-scale hyperprior (GDN, gain units), MSE-trained"),
    CodecInfo(
        name="hyperprior-msssim", codec_id=4, weights="hyperprior_msssim.safetensors", family="hyperprior",
        qualities=tuple(range(1, 11)), default_quality=6, loader="aecodec.codecs.hyperprior:load",
        description="the hyperprior fine-tuned for MS-SSIM (lambda x (1 - MS-SSIM) + bpp); 200 CPU steps so far"),
    CodecInfo(
        name="vqvae", codec_id=3, weights="vqvae.safetensors", family="vqvae", qualities=(1, 2, 3, 4, 5),
        default_quality=3, base="hyperprior", loader="aecodec.codecs.vq:load", fractional=False, effort=False,
        description="VQ-VAE: hyperprior transforms, entropy-constrained vector quantization of latent pairs, "
                    "constriction-coded indices under hyper-latent-conditioned priors"),
    CodecInfo(
        name="compressai-hyperprior", codec_id=7, weights="", family="compressai", qualities=(1,),
        default_quality=1, loader="aecodec.codecs.imported:load", fractional=False, effort=False,
        description="a CompressAI bmshj2018-hyperprior or mbt2018-mean model you imported (aecodec import "
                    "compressai): its transforms, exact integer entropy parameters"),
    CodecInfo(
        name="compressai-factorized", codec_id=8, weights="", family="compressai", qualities=(1,),
        default_quality=1, loader="aecodec.codecs.imported:load", fractional=False, effort=False, streams=1,
        description="a CompressAI bmshj2018-factorized model you imported (aecodec import compressai)"),
    CodecInfo(
        name="signal", codec_id=2, weights="signal.safetensors", family="signal", qualities=(1,),
        default_quality=1, loader="aecodec.codecs.signal:load", kind="array", fractional=False, effort=False,
        description="error-bounded float arrays (time series, sensor data): dense autoencoder + residual, .npy in"),
)


# CompressAI zoo architectures ``aecodec import compressai`` reads (aecodec.codecs.imported) -> their codec
COMPRESSAI_ARCHS: dict[str, str] = {
    "bmshj2018-factorized": "compressai-factorized",
    "bmshj2018-hyperprior": "compressai-hyperprior",
    "mbt2018-mean": "compressai-hyperprior",
}


def _check_registry() -> None:
    names = [c.name for c in CODECS]
    ids = [c.codec_id for c in CODECS]
    if len(set(names)) != len(names) or len(set(ids)) != len(ids):
        raise RuntimeError("duplicate codec name or id in the registry")
    if sum(c.default for c in CODECS) != 1:
        raise RuntimeError("exactly one codec must be marked default")
    if any(c.base is not None and c.base not in names for c in CODECS):
        raise RuntimeError("a codec declares an unknown base")


_check_registry()


def list_codecs(kind: str | None = None) -> list[CodecInfo]:
    """Registered codecs (of one ``kind``, "image" or "array", when given), the default first."""
    ordered = sorted(CODECS, key=lambda c: not c.default)
    return [c for c in ordered if kind is None or c.kind == kind]


def default_codec() -> CodecInfo:
    return next(c for c in CODECS if c.default)


def get_codec(name: str | None) -> CodecInfo:
    if name is None:
        return default_codec()
    for c in CODECS:
        if c.name == name:
            return c
    names = ", ".join(c.name for c in CODECS)
    raise UnknownCodecError(f"unknown codec {name!r} (available: {names})")


def codec_by_id(codec_id: int) -> CodecInfo:
    for info in CODECS:
        if info.codec_id == codec_id:
            return info
    raise ModelMismatchError(f"bitstream uses codec id {codec_id}, which this aecodec does not know "
                             "(written by a newer version?)")


def codec_of_weights(path: str | Path, name: str | None = None) -> CodecInfo:
    """The codec a weights file belongs to: the one it names in its metadata, else ``name`` when its family
    fits, else the first registered codec of its family."""
    meta = weights_metadata(path)
    if meta.get("codec"):
        info = get_codec(meta["codec"])
        if name is not None and name != info.name:
            raise ModelMismatchError(f"{Path(path).name} holds weights of codec {info.name!r}, not {name!r}")
        return info
    if name is not None:
        info = get_codec(name)
        check_weights(info, Path(path))
        return info
    for info in CODECS:
        if info.family == meta["family"]:
            return info
    raise ModelMismatchError(f"{Path(path).name}: unknown weights family {meta['family']!r}")


def check_weights(info: CodecInfo, path: Path) -> None:
    """Refuse a weights file of another family than ``info``'s (a clean error, before any tensor is read)."""
    meta = weights_metadata(path)
    if meta["family"] != info.family or meta.get("codec", info.name) != info.name:
        raise ModelMismatchError(f"{path.name} holds {meta.get('codec') or meta['family']} weights, which codec "
                                 f"{info.name!r} cannot use")


@lru_cache(maxsize=None)
def _load(name: str, device: str, path: Path, digest: bytes):
    """Import the codec's loader and call it; a dependent codec gets its loaded base codec, after the hash its
    weights file pins has been checked against the base's installed weights."""
    info = get_codec(name)
    module, func = info.loader.split(":")
    loader = getattr(importlib.import_module(module), func)
    if info.base is None:
        return loader(path, device)
    base = get_codec(info.base)
    want = weights_metadata(path).get("base_sha256", "")
    have = file_hash(base.weights_path).hex()
    if want != have:
        raise ModelMismatchError(f"{path.name} was trained for other {base.name} weights (sha256 {want[:16]}...) "
                                 f"than the installed ones ({have[:16]}...)")
    return loader(path, device, base.load(device))
