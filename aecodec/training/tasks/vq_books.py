"""The trainable side of the ``vqvae`` codec: its codebooks and index priors, on the frozen transforms of the
shipped hyperprior, trained by the project's RD loop (``aecodec train --codec vqvae``).

The forward pass is the codec's own encoder path (``aecodec.codecs.vq``): the hyperprior's analysis, integer
hyper-synthesis and class of each latent channel pair, then an entropy-constrained choice of codeword under
the current prior. What trains is what the decoder uses: the codewords, through the frozen synthesis transform
(so they move to minimise image distortion, not latent error), and each class's categorical prior over its
codes, whose likelihoods are the rate term. The encoder side has no parameters, so no straight-through
estimator is needed.

A run from scratch starts from entropy-constrained VQ of the training latents (``ecvq_init``: k-means++, then
Lagrangian iterations that assign each vector to the code minimizing squared error + LAGRANGE * bits and
re-estimate codes and probabilities, dropping codes that fall out of use; Chou, Lookabaugh and Gray 1989). Classes
with too few training vectors get no book (the codec maps them to the highest trained class), and the initial
book size is bounded by the data (one code per 30 vectors at most), so every code is supported by training data.
At the end of a run ``finalize`` keeps only the codes a 10-megapixel test set with the training data's
statistics would use ``MIN_PER_10MP`` times on average, and sets each prior to the counts of the final
assignment.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor, nn

from ...coding.ans import quantize_probabilities
from ...coding.fixedpoint import FRAC_A
from ...errors import AecError
from ...format.container import QUALITY_STEPS
from ...models.kmeans import kmeans
from .codec_layer import VQ_CLASSES as CLASSES
from .codec_layer import VQ_LAGRANGE as LAGRANGE
from .codec_layer import ComposedCodec, ec_assign, get_codec, latent_pairs, read_model, unpair

LEVELS = (0, 1, 2, 3, 4)  # the hyperprior's gain levels of qualities 1..5
K0 = 1024  # codes per book before the Lagrangian iterations drop the unused ones
ITERATIONS = 12
MIN_REAL = 200  # vectors a class needs to get a book of its own
MAX_VECTORS = 80_000  # per class and quality: a random subset bounds the clustering time
MIN_PER_10MP = 8.0  # finalize: average uses in 10 megapixels a code needs to be kept


def _key(q: int, c: int) -> str:
    return f"{q}_{c}"


@lru_cache(maxsize=1)
def _bottleneck() -> nn.Module:
    """The shipped hyperprior's z entropy model (float, CompressAI's): the rate of z in the training loss."""
    return read_model(get_codec("hyperprior").weights_path, entropy_models=True).entropy_bottleneck


class VQVAE(nn.Module):
    """Codebooks ``books[q_c]`` [K, 2] (gained latent units) and prior logits ``logits[q_c]`` [K] for quality
    ``q`` (1-based) and class ``c``; ``hp`` is the frozen, loaded hyperprior codec."""

    def __init__(self, hp, levels: list[int], sizes: dict[tuple[int, int], int]):
        super().__init__()
        self.hp = hp  # a loaded codec on the hyperprior's parts, not a submodule: neither trained nor checkpointed
        self.levels = list(levels)
        self.top = {q: max(c for (qq, c) in sizes if qq == q) for q in range(1, len(levels) + 1)}
        self.books = nn.ParameterDict({_key(q, c): nn.Parameter(torch.zeros(k, 2)) for (q, c), k in sizes.items()})
        self.logits = nn.ParameterDict({_key(q, c): nn.Parameter(torch.zeros(k)) for (q, c), k in sizes.items()})
        lambdas = hp.model.config.lambdas
        self.config = VQConfig(levels=self.levels, sizes=dict(sizes), lambdas=tuple(lambdas[lv] for lv in levels))

    @classmethod
    def from_codec(cls, codec: ComposedCodec) -> "VQVAE":
        """Warm start from a loaded ``vqvae`` codec (its fixed-point books and integer frequencies)."""
        vq = codec.latents
        sizes = {k: len(b) for k, b in vq.books.items()}
        model = cls(codec, vq.levels, sizes)
        with torch.no_grad():
            for (q, c), b in vq.books.items():
                model.books[_key(q, c)].copy_(b.double() / (1 << FRAC_A))
                model.logits[_key(q, c)].copy_(torch.from_numpy(np.log(vq.freqs[(q, c)].astype(np.float64))))
        return model

    @property
    def num_levels(self) -> int:
        return len(self.levels)

    def _hq16(self, q: int) -> int:
        return QUALITY_STEPS * (self.levels[q - 1] + 1)

    @torch.no_grad()
    def encode_vectors(self, y: Tensor, q: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Analysis latent [1, M, h, w] at quality ``q`` -> (pair vectors [n, 2], classes [n], gained means
        [1, M, h, w], z likelihoods), exactly as the codec computes them."""
        z_hat, v, cls, mu_g = latent_pairs(self.hp.latents.hyper, y, self._hq16(q), self.top[q])
        _, z_lik = _bottleneck()(z_hat.float(), training=False)
        return v.float(), cls, mu_g.float() / (1 << FRAC_A), z_lik

    @torch.no_grad()
    def assign(self, q: int, cls: Tensor, v: Tensor) -> Tensor:
        """Entropy-constrained choice under the current prior: argmin squared error + LAGRANGE * bits."""
        def book_and_bits(c: int) -> tuple[Tensor, Tensor]:
            return self.books[_key(q, c)], -torch.log_softmax(self.logits[_key(q, c)], 0) / math.log(2)
        return ec_assign(v, cls, book_and_bits)

    def forward(self, x: Tensor, level: Tensor) -> dict:
        """Images [B, 3, H, W] and 0-based quality indices [B] -> decoded images and the likelihoods of the
        chosen indices (the rate) and of the hyper-latent (constant here)."""
        hp = self.hp
        y_hats, y_liks, z_liks = [], [], []
        for b in range(x.shape[0]):
            q = int(level[b]) + 1
            with torch.no_grad():
                y = hp.model.analysis(x[b:b + 1])
            v, cls, mu_g, z_lik = self.encode_vectors(y, q)
            codes = self.assign(q, cls, v)
            vecs = torch.zeros_like(v)
            logp = torch.zeros(len(v))
            for c in torch.unique(cls).tolist():
                sel = cls == c
                vecs = vecs.index_put((sel,), self.books[_key(q, c)][codes[sel]])
                logp = logp.index_put((sel,), torch.log_softmax(self.logits[_key(q, c)], 0)[codes[sel]])
            inv = hp.latents.hyper.gains.inverse(self._hq16(q))
            y_hats.append((unpair(vecs, mu_g.shape) + mu_g) * inv)
            y_liks.append(logp.exp())
            z_liks.append(z_lik.flatten())
        x_hat = hp.model.synthesis(torch.cat(y_hats))
        return {"x_hat": x_hat, "likelihoods": {"y": torch.stack(y_liks), "z": torch.stack(z_liks)}}

    @torch.no_grad()
    def counts(self, latents: list[Tensor]) -> dict[tuple[int, int], np.ndarray]:
        """How often each code is chosen on analysis latents (each [1, M, h, w]), per (quality, class)."""
        out = {k: np.zeros(n, np.int64) for k, n in self.config.sizes.items()}
        for q in range(1, self.num_levels + 1):
            for y in latents:
                v, cls, _, _ = self.encode_vectors(y, q)
                codes = self.assign(q, cls, v)
                for c in torch.unique(cls).tolist():
                    out[(q, c)] += np.bincount(codes[cls == c].numpy(), minlength=len(out[(q, c)]))
        return out

    @torch.no_grad()
    def prune(self, counts: dict[tuple[int, int], np.ndarray], min_count: int) -> None:
        """Drop the codes chosen fewer than ``min_count`` times (each class keeps its most used code); the
        remaining logits are reset to the log of the counts."""
        sizes = {}
        for (q, c), n in counts.items():
            keep = n >= min_count
            keep[int(n.argmax())] = True
            k = _key(q, c)
            self.books[k] = nn.Parameter(self.books[k][torch.from_numpy(keep)].clone())
            self.logits[k] = nn.Parameter(torch.from_numpy(np.log(n[keep].clip(min=1).astype(np.float64))).float())
            sizes[(q, c)] = int(keep.sum())
        self.config = VQConfig(levels=self.levels, sizes=sizes, lambdas=self.config.lambdas)

    @torch.no_grad()
    def finalize(self, latents: list[Tensor], min_count: int) -> tuple[dict, dict, dict]:
        """Ready-to-ship tables: prune the codes chosen under ``min_count`` times on ``latents``, re-assign
        under count priors until every remaining code is used (a class the data never reaches keeps one code),
        and return (books in FRAC_A fixed point,
        16-bit frequencies, counts), keyed by (quality, class)."""
        self.prune(self.counts(latents), min_count)
        counts = self.counts(latents)
        while not all((n > 0).all() or n.sum() == 0 for n in counts.values()):  # unseen classes keep one code
            self.prune(counts, 1)  # drops at least one code per pass: terminates
            counts = self.counts(latents)
        books = {k: torch.round(self.books[_key(*k)].double() * (1 << FRAC_A)).long() for k in counts}
        freqs = {k: quantize_probabilities(n.astype(np.float64)) for k, n in counts.items()}
        return books, freqs, counts


class VQConfig:
    """What rebuilds a ``VQVAE`` from a checkpoint (with the shipped hyperprior)."""

    def __init__(self, levels: list[int], sizes: dict[tuple[int, int], int], lambdas: tuple[float, ...]):
        self.levels, self.sizes, self.lambdas = list(levels), dict(sizes), tuple(lambdas)

    def to_dict(self) -> dict:
        return {"codec": "vqvae", "levels": self.levels, "lambdas": list(self.lambdas),
                "sizes": [[q, c, k] for (q, c), k in sorted(self.sizes.items())]}

    @classmethod
    def from_dict(cls, d: dict) -> "VQConfig":
        return cls(d["levels"], {(q, c): k for q, c, k in d["sizes"]}, tuple(d["lambdas"]))


def ecvq(v: Tensor, k0: int, iterations: int, gen: torch.Generator) -> tuple[Tensor, np.ndarray]:
    """Entropy-constrained VQ of rows of ``v`` [n, 2] -> (codebook [K, 2], counts [K]), every code used."""
    book = kmeans(v, min(k0, len(v)), iterations=3, generator=gen)
    p = torch.full((len(book),), 1.0 / len(book), dtype=torch.float64)

    def assign() -> Tensor:
        bits = -torch.log2(p)
        return torch.cat([(torch.cdist(v[i:i + 65536], book).pow(2) + LAGRANGE * bits).argmin(1)
                          for i in range(0, len(v), 65536)])

    for _ in range(iterations):
        a = assign()
        counts = torch.bincount(a, minlength=len(book)).double()
        keep = counts >= max(2, 3e-4 * len(v))  # codes the data barely uses are dropped
        sums = torch.zeros_like(book).index_add_(0, a, v)
        book = sums[keep] / counts[keep, None].to(v.dtype)
        p = counts[keep] / counts[keep].sum()
    counts = torch.bincount(assign(), minlength=len(book))
    return book[counts > 0], counts[counts > 0].numpy()


@torch.no_grad()
def ecvq_init(hp, latents: Tensor, gen: torch.Generator, levels: tuple[int, ...] = LEVELS) -> VQVAE:
    """A ``VQVAE`` whose books and priors are the entropy-constrained VQ of the mean-removed latent pairs of
    ``latents`` [n, M, h, w] (analysis outputs of training crops), per quality and class."""
    books, counts = {}, {}
    for q, level in enumerate(levels, start=1):
        hq16 = QUALITY_STEPS * (level + 1)
        per_class: dict[int, list[Tensor]] = {c: [] for c in range(CLASSES)}
        for y in latents:
            _, vec, cls, _ = latent_pairs(hp.latents.hyper, y[None].float(), hq16, CLASSES - 1)
            for c in torch.unique(cls).tolist():
                per_class[c].append(vec[cls == c].float())
        for c in range(CLASSES):
            real = torch.cat(per_class[c]) if per_class[c] else torch.zeros(0, 2)
            if len(real) > MAX_VECTORS:
                real = real[torch.randperm(len(real), generator=gen)[:MAX_VECTORS]]
            if len(real) < MIN_REAL:  # too rare to train: the codec uses the highest trained class's book
                break
            books[(q, c)], counts[(q, c)] = ecvq(real, min(K0, max(2, len(real) // 30)), ITERATIONS, gen)
        if (q, 0) not in books:
            raise AecError(f"too little training data for the vqvae at quality {q}: its first class has "
                           f"{len(torch.cat(per_class[0])) if per_class[0] else 0} latent pairs, it needs "
                           f"{MIN_REAL} (give more images, --crops-per-image or a larger --crop)")
    model = VQVAE(hp, list(levels), {k: len(b) for k, b in books.items()})
    for (q, c), b in books.items():
        model.books[_key(q, c)].copy_(b)
        model.logits[_key(q, c)].copy_(torch.from_numpy(np.log(counts[(q, c)].astype(np.float64))))
    return model


def usage_report(model: VQVAE, counts: dict[tuple[int, int], np.ndarray]) -> dict:
    """Per quality and class: vectors seen, codes kept, entropy of the index (bits) and log2 of the book size."""
    report: dict = {}
    for (q, c), n in sorted(counts.items()):
        pr = n / max(1, n.sum())
        pr = pr[pr > 0]
        report.setdefault(q, {"level": model.levels[q - 1] + 1, "classes": {}})["classes"][c] = {
            "vectors": int(n.sum()), "codes": len(n), "bits_per_index": float(-(pr * np.log2(pr)).sum()),
            "log2_codes": math.log2(len(n))}
    return report
