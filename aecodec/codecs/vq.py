"""The VQ-VAE codec: the hyperprior's trained transforms, with vector quantization of the latent and
entropy-coded codebook indices.

Warm start (issue 7's economical route): ``g_a``/``g_s`` and the hyper-prior are the shipped ``hyperprior``
model's. At quality level ``q`` the latent is gained as in that model and its predicted mean is removed; the
residual is cut into pairs of channels, and each pair is vector-quantized with the codebook of its *class*: the
larger of the two channels' predicted scale indices, in buckets of four (so a prior conditioned on the
hyper-latent); classes too rare to train at a quality use the highest trained class's codebook. Codebooks and
their index priors start from entropy-constrained VQ (Lagrangian k-means, Chou, Lookabaugh and Gray 1989) of
training-set latents and are then trained for rate and distortion by the project's loop
(``aecodec.training.vqvae``); they are stored in fixed point, and the priors as integer frequencies, so decoding
parses exactly like ``hyperprior``.
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
from ..contract import Coded
from ..errors import FormatError
from . import weights

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
def latent_pairs(hp, y: Tensor, hq16: int, top: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Analysis latent [1, M, h, w] at hyperprior quality ``hq16`` -> (integer z, mean-removed gained channel
    pairs [n, 2] float64, their classes [n] clamped to ``top``, gained means [1, M, h, w] in FRAC_A fixed
    point): what the encoder quantizes, shared by the codec, its training and its measurements."""
    side = hp.side_of(hp.hyper_latent(y, hq16), hq16)
    v = hp.offsets(y, hp.latent_gain(hq16), side)
    return side.z_hat, pair_vectors(v), classes_of(side.idx).clamp(max=top), side.mu_g


class VQCodec:
    """Ready-to-code VQ codec (``aecodec.contract.ImageCodec``): ``levels[q - 1]`` is the hyperprior gain level
    of quality ``q``."""


    def __init__(self, hp, levels: list[int], books: dict[tuple[int, int], Tensor],
                 freqs: dict[tuple[int, int], np.ndarray]):
        self.hp, self.model, self.levels = hp, hp.model, levels
        # classes never seen in training at a quality share the codebook of the highest class that was
        self.top = {q: max(c for (qq, c) in books if qq == q) for q in range(1, len(levels) + 1)}
        self.books = books  # (quality, class) -> int64 [K, 2], FRAC_A fractional bits
        self.books_float = {k: v.double() / (1 << FRAC_A) for k, v in books.items()}
        self.freqs = freqs  # (quality, class) -> int64 [K] summing to 2^16
        # one ANS stream per tile: each class's indices (in latent order) under its prior, classes in order
        self.coders = {q: CategoricalCoder([freqs[(q, c)] for c in range(self.top[q] + 1)]) for q in self.top}

    @property
    def stride(self) -> int:
        return self.hp.stride

    def _level(self, q16: int) -> tuple[int, int]:
        q, frac = divmod(q16, 16)
        if frac or not 1 <= q <= len(self.levels):
            raise FormatError(f"vqvae qualities are whole numbers 1..{len(self.levels)}, not {q16 / 16}")
        return q, 16 * (self.levels[q - 1] + 1)

    def nearest(self, q: int, cls: Tensor, v: Tensor) -> Tensor:
        """Entropy-constrained assignment under the shipped books and 16-bit frequencies."""
        def book_and_bits(c: int) -> tuple[Tensor, Tensor]:
            return self.books_float[(q, c)], torch.from_numpy(16 - np.log2(self.freqs[(q, c)].astype(np.float64)))
        return ec_assign(v, cls, book_and_bits)

    def compress(self, x: Tensor, q16: int, effort: int = 0) -> Coded:
        """One padded image [1, 3, H, W] -> ([z stream, index stream], (z digest, index digest))."""
        return self.compress_batch(x, q16, effort)[0]

    def decompress(self, streams: list[bytes], height: int, width: int, q16: int,
                   digests: tuple[int, ...]) -> Tensor:
        return self.decompress_batch([Coded(streams, digests)], height, width, q16)

    @torch.no_grad()
    def compress_batch(self, x: Tensor, q16: int, effort: int = 0,
                       crop: tuple[int, int, int, int] | None = None) -> list[Coded]:
        if effort:
            raise ValueError("vqvae has no encoder effort levels (use effort 0)")
        q, hq16 = self._level(q16)
        hp = self.hp
        x, y, z, g = hp.analyze(x, hq16, crop)
        results = []
        for b in range(x.shape[0]):
            z_stream, side = hp.code_hyper(z[b:b + 1], hq16)
            cls = classes_of(side.idx).clamp(max=self.top[q])
            codes = self.nearest(q, cls, pair_vectors(hp.offsets(y[b:b + 1], g, side)))
            stream = self.coders[q].encode(codes.numpy(), cls.numpy())
            results.append(Coded([z_stream, stream], (hp.digest(side.z_hat), hp.digest(codes))))
        return results

    @torch.no_grad()
    def decompress_batch(self, items: list[Coded], height: int, width: int, q16: int) -> Tensor:
        return self.synthesize(self.decode_latents(items, height, width, q16), q16)

    def synthesize(self, y_hat_g: Tensor, q16: int) -> Tensor:
        """Decoded gained latents -> pixels, through the base's synthesis at this level's hyperprior quality."""
        return self.hp.synthesize(y_hat_g, self._level(q16)[1])

    def decode_latents(self, items: list[Coded], height: int, width: int, q16: int) -> Tensor:
        """The decoded (gained) latents [B, M, h, w], float64: codebook vectors plus the hyperprior's means."""
        q, hq16 = self._level(q16)
        y_hats = []
        for streams, digests in items:
            _, _, idx, mu_g = self.hp.parse_hyper(streams[0], digests[0], height, width, hq16)
            cls = classes_of(idx).clamp(max=self.top[q])
            codes = torch.from_numpy(self.coders[q].decode(streams[1], cls.numpy()))
            if self.hp.digest(codes) != digests[1]:
                raise FormatError("corrupted .aec payload: codebook indices fail their check")
            vecs = torch.zeros(len(codes), GROUP, dtype=torch.int64)
            for c in torch.unique(cls).tolist():
                sel = cls == c
                vecs[sel] = self.books[(q, c)][codes[sel]]
            y_hats.append((unpair(vecs, idx.shape) + mu_g).to(torch.float64) / (1 << FRAC_A))
        return torch.cat(y_hats)


def export(path: Path, base_hash: str, levels: list[int], books: dict, freqs: dict,
           provenance: dict | None = None) -> Path:
    """Codebooks (FRAC_A fixed point) and 16-bit index frequencies per (quality, class) -> a weights file that
    pins the ``hyperprior`` weights it was trained for by their SHA-256 (``base_hash``, hex)."""
    tensors = {}
    for (q, c), b in books.items():
        tensors[f"book.{q}.{c}"] = b.to(torch.int32).contiguous()
        tensors[f"freq.{q}.{c}"] = torch.from_numpy(np.asarray(freqs[(q, c)], dtype=np.int32))
    meta = {"family": "vqvae", "base_sha256": base_hash, "levels": json.dumps(levels)}
    return weights.write(path, tensors, meta, provenance)


def load(path: Path, device: str, base) -> VQCodec:
    """Codebook file -> a ready ``VQCodec`` over ``base``, the loaded hyperprior it was trained for (the
    registry checks the pinned hash)."""
    meta = weights.weights_metadata(path)
    books, freqs = {}, {}
    for k, v in weights.read_tensors(path).items():
        kind, q, c = k.split(".")
        if kind == "book":
            books[(int(q), int(c))] = v.long()
        else:
            freqs[(int(q), int(c))] = v.numpy().astype(np.int64)
    return VQCodec(base, json.loads(meta["levels"]), books, freqs)
