"""Entropy coding of codebook indices with constriction's ANS, under fixed-point probabilities.

Priors over indices (a learned categorical, or one conditioned on side information) are turned into integer
frequencies that sum to 2^PROB_BITS before coding. The coder sees only those integers (as exactly representable
float64 ratios), so encoder and decoder build identical models on any machine, whatever float noise the prior's
own computation had on the encoder side.
"""
from __future__ import annotations

import constriction
import numpy as np

from ..errors import FormatError

PROB_BITS = 16


def quantize_probabilities(p: np.ndarray) -> np.ndarray:
    """Probabilities [..., K] (any non-negative weights) -> int64 frequencies [..., K], each >= 1, summing to
    2^PROB_BITS along the last axis. Deterministic: floor of the scaled share plus one, then the remainder
    goes one by one to the largest fractional parts (ties to the lower index)."""
    p = np.asarray(p, dtype=np.float64)
    k = p.shape[-1]
    total = 1 << PROB_BITS
    if k > total // 2:
        raise ValueError(f"alphabet of {k} symbols is too large for {PROB_BITS}-bit probabilities")
    p = np.clip(p, 0, None)
    s = p.sum(-1, keepdims=True)
    p = np.where(s > 0, p / np.where(s > 0, s, 1), 1.0 / k)
    scaled = p * (total - k)
    freq = np.floor(scaled).astype(np.int64) + 1
    short = total - freq.sum(-1)  # < K: distribute to the largest remainders
    order = np.argsort(-(scaled - np.floor(scaled)), axis=-1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(k).reshape((1,) * (p.ndim - 1) + (k,)), axis=-1)
    return freq + (rank < short[..., None])


def _probabilities(freqs: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(freqs, dtype=np.float64) / (1 << PROB_BITS))  # exact ratios


def encode_indices(indices: np.ndarray, freqs: np.ndarray) -> bytes:
    """Indices [n] in 0..K-1 and frequencies [K] (shared) or [n, K] (one row per index) -> bytes."""
    indices = np.ascontiguousarray(np.asarray(indices, dtype=np.int32).reshape(-1))
    coder = constriction.stream.stack.AnsCoder()
    probs = _probabilities(freqs)
    if probs.shape[-1] == 1:  # a one-symbol alphabet costs nothing
        return b""
    if len(indices) and probs.ndim == 1:  # one shared model: built once
        coder.encode_reverse(indices, constriction.stream.model.Categorical(probs, perfect=False))
    elif len(indices):  # one model per index
        if probs.shape[0] != len(indices):
            raise ValueError(f"{probs.shape[0]} probability rows for {len(indices)} symbols")
        coder.encode_reverse(indices, constriction.stream.model.Categorical(perfect=False), probs)
    return coder.get_compressed().astype("<u4").tobytes()


def decode_indices(data: bytes, freqs: np.ndarray, n: int) -> np.ndarray:
    """Inverse of ``encode_indices``: ``n`` indices (int64). Damaged data gives wrong indices or a
    ``FormatError``; callers check a digest of the result."""
    if len(data) % 4:
        raise FormatError("corrupted index stream: length is not a whole number of words")
    words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
    if n == 0 or np.shape(freqs)[-1] == 1:
        if len(data):
            raise FormatError("corrupted index stream: data where none belongs")
        return np.zeros(n, dtype=np.int64)
    try:
        coder = constriction.stream.stack.AnsCoder(words)
        probs = _probabilities(freqs)
        if probs.ndim == 1:
            out = coder.decode(constriction.stream.model.Categorical(probs, perfect=False), n)
        else:
            if probs.shape[0] != n:
                raise ValueError(f"{probs.shape[0]} probability rows for {n} symbols")
            out = coder.decode(constriction.stream.model.Categorical(perfect=False), probs)
    except Exception as e:  # constriction rejects some invalid states outright
        raise FormatError(f"corrupted index stream: {e}") from None
    return np.asarray(out, dtype=np.int64)


def cross_entropy_bits(indices: np.ndarray, freqs: np.ndarray) -> float:
    """Ideal code length (bits) of ``indices`` under the quantized frequencies: what the stream should cost."""
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    f = np.asarray(freqs, dtype=np.float64)
    p = f[indices] if f.ndim == 1 else f[np.arange(len(indices)), indices]
    return float(-(np.log2(p / (1 << PROB_BITS))).sum())


def encode_segments(segments: list[tuple[np.ndarray, np.ndarray]]) -> bytes:
    """Several runs of indices, each under its own shared frequency table [K], in ONE ANS stream (no per-run
    headers or flushes). Runs with a one-symbol alphabet cost nothing."""
    coder = constriction.stream.stack.AnsCoder()
    for indices, freqs in reversed(segments):  # a stack: the last run in is the first out
        probs = _probabilities(freqs)
        if len(indices) and probs.shape[-1] > 1:
            coder.encode_reverse(np.ascontiguousarray(np.asarray(indices, dtype=np.int32)),
                                 constriction.stream.model.Categorical(probs, perfect=False))
    return coder.get_compressed().astype("<u4").tobytes()


def decode_segments(data: bytes, segments: list[tuple[np.ndarray, int]]) -> list[np.ndarray]:
    """Inverse of ``encode_segments`` given each run's (frequency table, length)."""
    if len(data) % 4:
        raise FormatError("corrupted index stream: length is not a whole number of words")
    try:
        coder = constriction.stream.stack.AnsCoder(np.frombuffer(data, dtype="<u4").astype(np.uint32))
        out = []
        for freqs, n in segments:
            probs = _probabilities(freqs)
            if n and probs.shape[-1] > 1:
                out.append(np.asarray(coder.decode(constriction.stream.model.Categorical(probs, perfect=False), n),
                                      dtype=np.int64))
            else:
                out.append(np.zeros(n, dtype=np.int64))
    except Exception as e:
        raise FormatError(f"corrupted index stream: {e}") from None
    return out


class CategoricalCoder:
    """Symbols under one of several frequency tables, chosen per symbol by ``indexes``, in ONE ANS stream: the
    same interface as ``aecodec.coding.rans.RansCoder``. Symbols are coded grouped by table (increasing table
    index, each group in its original order), so each table's model is built once; the decoder, which knows
    the indexes, regroups them."""

    def __init__(self, tables: list[np.ndarray]):
        self.tables = [np.asarray(t, dtype=np.int64) for t in tables]

    def encode(self, symbols, indexes) -> bytes:
        s, idx = np.asarray(symbols).reshape(-1), np.asarray(indexes).reshape(-1)
        return encode_segments([(s[idx == c], t) for c, t in enumerate(self.tables)])

    def decode(self, data: bytes, indexes) -> np.ndarray:
        """int64 symbols in the order (and shape) of ``indexes``."""
        idx = np.asarray(indexes)
        flat = idx.reshape(-1)
        sels = [np.flatnonzero(flat == c) for c in range(len(self.tables))]
        runs = decode_segments(data, [(t, len(sel)) for t, sel in zip(self.tables, sels)])
        out = np.zeros(len(flat), dtype=np.int64)
        for sel, got in zip(sels, runs):
            out[sel] = got
        return out.reshape(idx.shape)
