"""The one registry, data only: architectures (how files of a codec id are decoded) and the named weights
variants of each (``CodecInfo``: the codecs users pick by name).

A codec id belongs to an architecture and is part of the file format (docs/format.md): ids are written here by
hand and never reused. A new weights file for an existing architecture (another post-filter, retrained base
weights) is a new variant: a line here (or ``register``) with no codec id of its own, no training-code entry and
no golden file; files record the weights' hash, which selects the variant when they are decoded. Variants made
before this rule keep the ids they were published with, so every file made so far decodes as before.

Loaders are dotted paths, imported only when a codec is first loaded (``aecodec.variants``), so
``import aecodec``, ``aecodec list`` and ``aecodec info`` load no network code. The default codec of each kind is
marked, not implied by order.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .codecs.compressai_archs import ARCHS
from .errors import ModelMismatchError, UnknownCodecError
from .tiling import TILE, TILE_MAX

WEIGHTS_DIR = Path(__file__).parent / "weights"  # the shipped weights files
SINGLE_RATE = 1  # the quality the files of a single-rate codec record


@dataclass(frozen=True)
class Architecture:
    """How a family of weights files codes: ``loader`` ("module:function") takes (weights path, device[, loaded
    base codec]) and returns a ready codec. ``qualities`` are the trained levels; with ``fractional`` the 1/16
    steps between them work too; ``streams``: entropy-coded streams per tile (images) or after the parameters
    (arrays). Single-rate codecs (an imported model, an array codec whose rate follows its error bound) have no
    qualities and no default one; their files record ``SINGLE_RATE``."""

    name: str
    codec_id: int  # the id every variant without an id of its own writes
    family: str  # the "family" its weights files record in their metadata
    loader: str
    qualities: tuple[int, ...] = tuple(range(1, 11))
    default_quality: int | None = 6
    kind: str = "image"  # "image" codecs code pictures; "array" codecs code float arrays
    fractional: bool = True
    effort: bool = True  # whether encoder effort levels (latent refinement) apply
    streams: int = 2
    legacy_ids: tuple[int, ...] = ()  # published ids of variants made before variants shared their architecture's
    tile: int = TILE  # the tile side of images large enough to tile (``aecodec.tiling.TILE_ABOVE``)


ARCHITECTURES: dict[str, Architecture] = {a.name: a for a in (
    Architecture(name="hyperprior", codec_id=1, family="hyperprior", loader="aecodec.codecs.hyperprior:load",
                 legacy_ids=(4,)),
    Architecture(name="context", codec_id=5, family="context", loader="aecodec.codecs.checkerboard:load"),
    Architecture(name="postfilter", codec_id=6, family="postfilter", loader="aecodec.codecs.postfilter:load",
                 legacy_ids=(9, 10)),
    Architecture(name="vqvae", codec_id=3, family="vqvae", loader="aecodec.codecs.vq:load", qualities=(1, 2, 3, 4, 5),
                 default_quality=3, fractional=False, effort=False),
    Architecture(name="compressai-hyperprior", codec_id=7, family="compressai", loader="aecodec.codecs.imported:load",
                 qualities=(), default_quality=None, fractional=False, effort=False),
    Architecture(name="compressai-autoregressive", codec_id=11, family="compressai",
                 loader="aecodec.codecs.imported:load", qualities=(), default_quality=None, fractional=False,
                 effort=False),
    Architecture(name="compressai-factorized", codec_id=8, family="compressai", loader="aecodec.codecs.imported:load",
                 qualities=(), default_quality=None, fractional=False, effort=False, streams=1),
    # AV1 codes frames of any size in bounded memory, but independent frames meet at a visible edge: the largest
    # tiles the format allows, so that images up to 16 megapixels are one frame
    Architecture(name="avif-pf", codec_id=12, family="avif-pf", loader="aecodec.codecs.avif:load", effort=False,
                 streams=1, tile=TILE_MAX),
    Architecture(name="signal", codec_id=2, family="signal", loader="aecodec.codecs.signal:load", qualities=(),
                 default_quality=None, kind="array", fractional=False, effort=False),
)}


@dataclass(frozen=True)
class CodecInfo:
    """A named weights variant of an architecture: what ``--codec NAME`` picks. ``weights``: the shipped file
    (a name in ``WEIGHTS_DIR``, or a path); "" for codecs whose weights a user brings (``--weights FILE``).
    ``base``: the variant whose weights this one's file builds on (and pins by hash)."""

    name: str
    arch: str
    weights: str
    description: str
    base: str | None = None
    default: bool = False
    published_id: int = 0  # the id it was published with, before variants shared their architecture's

    @property
    def architecture(self) -> Architecture:
        return ARCHITECTURES[self.arch]

    @property
    def codec_id(self) -> int:
        """The codec id files of this variant record."""
        return self.published_id or self.architecture.codec_id

    @property
    def weights_path(self) -> Path:
        return WEIGHTS_DIR / self.weights

    # the architecture's fields, read as the variant's own
    @property
    def family(self) -> str:
        return self.architecture.family

    @property
    def loader(self) -> str:
        return self.architecture.loader

    @property
    def qualities(self) -> tuple[int, ...]:
        return self.architecture.qualities

    @property
    def default_quality(self) -> int | None:
        return self.architecture.default_quality

    @property
    def kind(self) -> str:
        return self.architecture.kind

    @property
    def fractional(self) -> bool:
        return self.architecture.fractional

    @property
    def effort(self) -> bool:
        return self.architecture.effort

    @property
    def streams(self) -> int:
        return self.architecture.streams

    @property
    def tile(self) -> int:
        return self.architecture.tile


CODECS: list[CodecInfo] = [
    CodecInfo(name="avif-pf", arch="avif-pf", weights="avif_pf.safetensors", default=True,
              description="AV1 intra (an AVIF bitstream, 4:4:4) decoded, then a learned restoration filter"),
    CodecInfo(name="hyperprior-ctx-pf3", arch="postfilter", weights="hyperprior_ctx_pf3.safetensors",
              base="hyperprior-ctx", published_id=10,
              description="hyperprior-ctx's symbols (the same entropy-coded bytes) decoded with a 6-layer filter "
                          "and 5 residual blocks after the synthesis"),
    CodecInfo(name="hyperprior-ctx-pf2", arch="postfilter", weights="hyperprior_ctx_pf2.safetensors",
              base="hyperprior-ctx", published_id=9,
              description="hyperprior-ctx's symbols (the same entropy-coded bytes) decoded with a 6-layer filter "
                          "and 3 residual blocks after the synthesis"),
    CodecInfo(name="hyperprior-ctx-pf", arch="postfilter", weights="hyperprior_ctx_pf.safetensors",
              base="hyperprior-ctx",
              description="hyperprior-ctx's symbols (the same entropy-coded bytes) decoded with a 6-layer "
                          "enhancement filter after the synthesis"),
    CodecInfo(name="hyperprior-ctx", arch="context", weights="hyperprior_ctx.safetensors", base="hyperprior",
              description="the hyperprior plus a checkerboard context model (half the latents predicted from the other "
                          "half, two-pass decoding): the same pixels as hyperprior in fewer bytes"),
    CodecInfo(name="hyperprior", arch="hyperprior", weights="hyperprior.safetensors",
              description="variable-rate mean-scale hyperprior (GDN, gain units), MSE-trained"),
    CodecInfo(name="hyperprior-msssim", arch="hyperprior", weights="hyperprior_msssim.safetensors", published_id=4,
              description="the hyperprior fine-tuned for MS-SSIM (lambda x (1 - MS-SSIM) + bpp)"),
    CodecInfo(name="vqvae", arch="vqvae", weights="vqvae.safetensors", base="hyperprior",
              description="VQ-VAE: hyperprior transforms, entropy-constrained vector quantization of latent pairs, "
                          "constriction-coded indices under hyper-latent-conditioned priors"),
    CodecInfo(name="compressai-hyperprior", arch="compressai-hyperprior", weights="",
              description="a CompressAI bmshj2018-hyperprior or mbt2018-mean model you imported (aecodec import "
                          "compressai): its transforms, exact integer entropy parameters"),
    CodecInfo(name="compressai-autoregressive", arch="compressai-autoregressive", weights="",
              description="a CompressAI mbt2018, cheng2020-anchor or cheng2020-attn model you imported (aecodec "
                          "import compressai): its transforms, an exact integer context model, wavefront decoding"),
    CodecInfo(name="compressai-factorized", arch="compressai-factorized", weights="",
              description="a CompressAI bmshj2018-factorized model you imported (aecodec import compressai)"),
    CodecInfo(name="signal", arch="signal", weights="signal.safetensors", default=True,
              description="error-bounded float arrays (time series, sensor data): dense autoencoder + residual, "
                          ".npy in"),
]

# CompressAI zoo architectures ``aecodec import compressai`` reads -> their codec
COMPRESSAI_ARCHS: dict[str, str] = {name: a.codec for name, a in ARCHS.items()}


def _check(codecs: list[CodecInfo]) -> None:
    names = [c.name for c in codecs]
    if len(set(names)) != len(names):
        raise ValueError("duplicate codec name in the registry")
    for c in codecs:
        a = ARCHITECTURES.get(c.arch)
        if a is None:
            raise ValueError(f"codec {c.name!r}: unknown architecture {c.arch!r}")
        if c.published_id and c.published_id not in (a.codec_id, *a.legacy_ids):
            raise ValueError(f"codec {c.name!r}: id {c.published_id} is not one of architecture {a.name!r}'s")
        if c.base is not None and c.base not in names:
            raise ValueError(f"codec {c.name!r} declares an unknown base {c.base!r}")
    ids = [a.codec_id for a in ARCHITECTURES.values()] + [i for a in ARCHITECTURES.values() for i in a.legacy_ids]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate codec id in the registry")
    for kind in ("image", "array"):
        if sum(c.default for c in codecs if c.kind == kind) != 1:
            raise ValueError(f"exactly one {kind} codec must be marked default")


_check(CODECS)


def register(info: CodecInfo) -> None:
    """Add a weights variant (a file of an existing architecture, by absolute path or a name in
    ``WEIGHTS_DIR``): from then on ``--codec NAME`` encodes with it and its files decode without --weights."""
    if info.default:
        raise ValueError("a registered variant cannot replace the shipped default")
    _check(CODECS + [info])
    CODECS.append(info)


def quality_range(info: "CodecInfo | Architecture") -> tuple[int, int]:
    """The lowest and highest quality a codec takes (``SINGLE_RATE`` for both when it has one rate)."""
    return (min(info.qualities), max(info.qualities)) if info.qualities else (SINGLE_RATE, SINGLE_RATE)


def list_codecs(kind: str | None = None) -> list[CodecInfo]:
    """Registered codecs (of one ``kind``, "image" or "array", when given), the image default first."""
    ordered = sorted(CODECS, key=lambda c: not (c.default and c.kind == "image"))
    return [c for c in ordered if kind is None or c.kind == kind]


def default_codec(kind: str = "image") -> CodecInfo:
    return next(c for c in CODECS if c.default and c.kind == kind)


def get_codec(name: str | None) -> CodecInfo:
    if name is None:
        return default_codec()
    for c in CODECS:
        if c.name == name:
            return c
    names = ", ".join(c.name for c in CODECS)
    raise UnknownCodecError(f"unknown codec {name!r} (available: {names})")


def architecture_of_id(codec_id: int) -> Architecture:
    for a in ARCHITECTURES.values():
        if codec_id == a.codec_id or codec_id in a.legacy_ids:
            return a
    raise ModelMismatchError(f"bitstream uses codec id {codec_id}, which this aecodec does not know "
                             "(written by a newer version?)")


def variants_of(arch: Architecture) -> list[CodecInfo]:
    """The registered variants of an architecture, the ones with shipped weights first."""
    return sorted((c for c in CODECS if c.arch == arch.name), key=lambda c: not c.weights)


def architecture_of_family(family: str) -> Architecture:
    for a in ARCHITECTURES.values():
        if a.family == family:
            return a
    raise ModelMismatchError(f"unknown weights family {family!r}")
