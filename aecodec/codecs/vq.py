"""The VQ-VAE codec: the hyperprior's trained transforms, with vector quantization of the latent and
entropy-coded codebook indices.

Warm start: ``g_a``/``g_s`` and the hyper-prior are the shipped ``hyperprior``
model's. At quality level ``q`` the latent is gained as in that model and its predicted mean is removed; the
residual is cut into pairs of channels, and each pair is vector-quantized with the codebook of its *class*: the
larger of the two channels' predicted scale indices, in buckets of four (so a prior conditioned on the
hyper-latent); classes too rare to train at a quality use the highest trained class's codebook. Codebooks and
their index priors start from entropy-constrained VQ (Lagrangian k-means, Chou, Lookabaugh and Gray 1989) of
training-set latents and are then trained for rate and distortion by the project's loop
(``aecodec.training.tasks.vq_books``); they are stored in fixed point, and the priors as integer frequencies, so
decoding parses exactly like ``hyperprior``.
Indices are coded with constriction's ANS, one shared categorical model per class.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from ..coding.ans import CategoricalCoder
from ..coding.fixedpoint import FRAC_A
from ..contract import Coded, Refine
from ..errors import FormatError
from ..format.container import QUALITY_STEPS
from . import weights_file
from .composed import ComposedCodec
from .latents import HyperPath, Side, digest

GROUP = 2  # channels per vector
BUCKET = 4  # scale indices per class
CLASSES = 64 // BUCKET
LAGRANGE = 2 * math.log(2) / 12  # distortion per bit of a unit-step uniform quantizer at high rate


def classes_of(idx: Tensor) -> Tensor:
    """Scale-table indices [1, M, h, w] -> class of each channel pair [M/2 * h * w] (pair-major order)."""
    pairs = idx[0].reshape(idx.shape[1] // GROUP, GROUP, -1)  # [M/2, 2, h*w]
    return (pairs.max(1).values // BUCKET).reshape(-1)


def pair_vectors(v: Tensor) -> Tensor:
    """[1, M, h, w] -> [M/2 * h * w, 2] in the order of ``classes_of``."""
    m = v.shape[1]
    return v[0].reshape(m // GROUP, GROUP, -1).permute(0, 2, 1).reshape(-1, GROUP)


def unpair(vectors: Tensor, shape: tuple[int, ...]) -> Tensor:
    _, m, h, w = shape
    return vectors.reshape(m // GROUP, h * w, GROUP).permute(0, 2, 1).reshape(1, m, h, w)


@torch.no_grad()
def ec_assign(v: Tensor, cls: Tensor, book_and_bits: Callable[[int], tuple[Tensor, Tensor]]) -> Tensor:
    """Entropy-constrained VQ: each vector [n, 2] gets the code of its class's book minimizing squared error +
    LAGRANGE * bits (``book_and_bits(c)`` gives the book [K, 2] and each code's bits [K]). Shared by the codec
    and its trainable model, so training picks exactly the codes the encoder will."""
    out = torch.zeros(len(v), dtype=torch.int64)
    for c in torch.unique(cls).tolist():
        sel = torch.nonzero(cls == c).flatten()
        book, bits = book_and_bits(c)
        for i in range(0, len(sel), 65536):  # bounds the distance matrix's memory
            part = sel[i:i + 65536]
            out[part] = (torch.cdist(v[part], book).pow(2) + LAGRANGE * bits).argmin(1)
    return out


@torch.no_grad()
def latent_pairs(hyper: HyperPath, y: Tensor, hq16: int, top: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Analysis latent [1, M, h, w] at hyperprior quality ``hq16`` -> (integer z, mean-removed gained channel
    pairs [n, 2] float64, their classes [n] clamped to ``top``, gained means [1, M, h, w] in FRAC_A fixed
    point): what the encoder quantizes, shared by the codec, its training and its measurements."""
    side = hyper.side(hyper.symbols(hyper.latent(y, hq16)), hq16)
    return side.z_symbols, pair_vectors(residuals(y, hyper, side, hq16)), \
        classes_of(side.scale_index).clamp(max=top), side.mean


def residuals(y: Tensor, hyper: HyperPath, side: Side, hq16: int) -> Tensor:
    """Latent [1, M, h, w] -> gained and mean-removed (float64): what the vector quantizer codes."""
    return y.cpu().to(torch.float64) * hyper.gains.latent(hq16) - side.mean.to(torch.float64) / (1 << FRAC_A)


class VQLatents:
    """The latent coder of the VQ codec (``aecodec.codecs.latents``): z as the hyperprior codes it, then channel
    pairs as codebook indices under class priors. ``levels[q - 1]`` is the hyperprior gain level of quality
    ``q``."""

    downsampling = 4
    rate_steps = None

    def __init__(self, hyper: HyperPath, levels: list[int], books: dict[tuple[int, int], Tensor],
                 freqs: dict[tuple[int, int], np.ndarray]):
        self.hyper, self.levels = hyper, levels
        # classes never seen in training at a quality share the codebook of the highest class that was
        self.top = {q: max(c for (qq, c) in books if qq == q) for q in range(1, len(levels) + 1)}
        self.books = books  # (quality, class) -> int64 [K, 2], FRAC_A fractional bits
        self.books_float = {k: v.double() / (1 << FRAC_A) for k, v in books.items()}
        self.freqs = freqs  # (quality, class) -> int64 [K] summing to 2^16
        # one ANS stream per tile: each class's indices (in latent order) under its prior, classes in order
        self.coders = {q: CategoricalCoder([freqs[(q, c)] for c in range(self.top[q] + 1)]) for q in self.top}

    def level(self, quality16: int) -> tuple[int, int]:
        """quality16 -> (whole quality, the hyperprior quality16 it codes at)."""
        q, frac = divmod(quality16, QUALITY_STEPS)
        if frac or not 1 <= q <= len(self.levels):
            raise FormatError(f"vqvae qualities are whole numbers 1..{len(self.levels)}, "
                              f"not {quality16 / QUALITY_STEPS}")
        return q, QUALITY_STEPS * (self.levels[q - 1] + 1)

    def nearest(self, q: int, cls: Tensor, v: Tensor) -> Tensor:
        """Entropy-constrained assignment under the shipped books and 16-bit frequencies."""
        def book_and_bits(c: int) -> tuple[Tensor, Tensor]:
            return self.books_float[(q, c)], torch.from_numpy(16 - np.log2(self.freqs[(q, c)].astype(np.float64)))
        return ec_assign(v, cls, book_and_bits)

    def encode(self, y: Tensor, quality16: int, refine: Refine | None = None) -> list[Coded]:
        if refine is not None:
            raise ValueError("vector quantization has no latent refinement")
        q, hq16 = self.level(quality16)
        z = self.hyper.latent(y, hq16)
        results = []
        for b in range(y.shape[0]):
            z_stream, side = self.hyper.encode(z[b:b + 1], hq16)
            cls = classes_of(side.scale_index).clamp(max=self.top[q])
            codes = self.nearest(q, cls, pair_vectors(residuals(y[b:b + 1], self.hyper, side, hq16)))
            stream = self.coders[q].encode(codes.numpy(), cls.numpy())
            results.append(Coded([z_stream, stream], (digest(side.z_symbols), digest(codes))))
        return results

    def decode(self, item: Coded, shape: tuple[int, int], quality16: int) -> Tensor:
        """One image's streams -> its decoded gained latent, float64: codebook vectors plus the hyperprior's
        means."""
        q, hq16 = self.level(quality16)
        grid = (shape[0] // self.downsampling, shape[1] // self.downsampling)
        side = self.hyper.decode(item.streams[0], item.digests[0], grid, hq16)
        cls = classes_of(side.scale_index).clamp(max=self.top[q])
        codes = torch.from_numpy(self.coders[q].decode(item.streams[1], cls.numpy()))
        if digest(codes) != item.digests[1]:
            raise FormatError("corrupted .aec payload: codebook indices fail their check")
        vecs = torch.zeros(len(codes), GROUP, dtype=torch.int64)
        for c in torch.unique(cls).tolist():
            sel = cls == c
            vecs[sel] = self.books[(q, c)][codes[sel]]
        return (unpair(vecs, side.scale_index.shape) + side.mean).to(torch.float64) / (1 << FRAC_A)

    def to_synthesis(self, y_hat: Tensor, quality16: int, device: torch.device) -> Tensor:
        """Through the base's inverse gain at this level's hyperprior quality."""
        return y_hat.float().to(device) * self.hyper.gains.inverse(self.level(quality16)[1])


def export(path: Path, base_hash: str, levels: list[int], books: dict, freqs: dict,
           provenance: dict | None = None) -> Path:
    """Codebooks (FRAC_A fixed point) and 16-bit index frequencies per (quality, class) -> a weights file that
    pins the ``hyperprior`` weights it was trained for by their SHA-256 (``base_hash``, hex)."""
    tensors = {}
    for (q, c), b in books.items():
        tensors[f"book.{q}.{c}"] = b.to(torch.int32).contiguous()
        tensors[f"freq.{q}.{c}"] = torch.from_numpy(np.asarray(freqs[(q, c)], dtype=np.int32))
    meta = {"family": "vqvae", "base_sha256": base_hash, "levels": json.dumps(levels)}
    return weights_file.write(path, tensors, meta, provenance)


def load(path: Path, device: str, base: ComposedCodec) -> ComposedCodec:
    """Codebook file -> the loaded hyperprior ``base`` it was trained for (its pinned hash checked by the caller)
    with the codebooks as its latent coder; no encoder effort."""
    meta = weights_file.weights_metadata(path)
    books, freqs = {}, {}
    for k, v in weights_file.read_tensors(path).items():
        kind, q, c = k.split(".")
        if kind == "book":
            books[(int(q), int(c))] = v.long()
        else:
            freqs[(int(q), int(c))] = v.numpy().astype(np.int64)
    latents = VQLatents(base.latents.hyper, json.loads(meta["levels"]), books, freqs)
    return ComposedCodec(base.transforms, latents, model=base.model, levels=len(latents.levels))
