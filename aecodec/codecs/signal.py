"""Error-bounded compression of float arrays (time series, sensor data) with a learned autoencoder.

The array is normalized, cut into windows of ``WINDOW`` samples, and a small dense autoencoder predicts each
window from a few integer latents. The prediction is computed in exact fixed point (``aecodec.coding.fixedpoint``), so
encoder and decoder agree bit for bit; the residual is then quantized uniformly with step ``2 * bound`` and
checked on the encoder with the decoder's own float64 operations; the residuals, or their differences when
that is smaller, are entropy-coded. Hence ``|x - decoded| <= bound`` for every
element, on every machine. Latents and residuals are entropy-coded with constriction under frequency tables
built from integer histograms stored in the stream.
"""
from __future__ import annotations

import lzma
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..coding.ans import decode_indices, encode_indices, quantize_probabilities
from ..coding.fixedpoint import FRAC_A, FRAC_W, IntLayer, to_fixed
from ..errors import AecError, FormatError, ModelMismatchError
from ..models.signal import CODE, WINDOW, SignalAE
from . import weights_file

MAX_ALPHABET = 1 << 15  # larger residual ranges fall back to lzma



class IntDecoder:
    """Exact integer twin of ``SignalAE.decoder`` (Linear/ReLU): each linear layer is the fixed-point 1x1
    convolution ``aecodec.coding.fixedpoint.IntLayer``, with each window one position."""

    def __init__(self, decoder: nn.Sequential):
        mods = list(decoder)
        self.layers = [IntLayer(to_fixed(m.weight, FRAC_W)[:, :, None, None], to_fixed(m.bias, FRAC_W + FRAC_A),
                                False, 1, 0, 0, i + 1 < len(mods) and isinstance(mods[i + 1], nn.ReLU))
                       for i, m in enumerate(mods) if isinstance(m, nn.Linear)]

    def __call__(self, z: Tensor) -> Tensor:
        """Integer latents [n, code] -> int64 windows [n, window] with FRAC_A fractional bits."""
        x = (z.to(torch.int64) << FRAC_A).t()[None, :, :, None]
        for layer in self.layers:
            x = layer(x)
        return x[0, :, :, 0].t()


@dataclass
class SignalCodec:
    """Ready-to-code array codec (``aecodec.contract.ArrayCodec``): parameters, then latents and residuals."""

    model: SignalAE
    window: int = WINDOW  # samples per window: the container records the array as windows of this many

    def __post_init__(self):
        self.model.eval()
        self.int_decoder = IntDecoder(self.model.decoder)

    def predict(self, z: np.ndarray, mean: float, std: float) -> np.ndarray:
        """The decoder's prediction of every window, float64; identical on every machine (integer network,
        then IEEE multiply and add)."""
        fixed = self.int_decoder(torch.from_numpy(z)).numpy()
        return fixed.astype(np.float64) / (1 << FRAC_A) * std + mean

    @torch.no_grad()
    def compress(self, x: np.ndarray, bound: float) -> tuple[dict, list[bytes]]:
        """Flat float64 samples -> (parameters, [latent stream, residual stream])."""
        n = len(x)
        mean = float(x.mean()) if n else 0.0
        std = (float(x.std()) if n else 0.0) or 1.0
        windows = np.zeros((max(1, math.ceil(n / WINDOW)), WINDOW))
        windows.reshape(-1)[:n] = x
        windows.reshape(-1)[n:] = x[-1] if n else 0.0  # pad with the last value: cheap to predict
        norm = torch.from_numpy((windows - mean) / std).float()
        z = torch.round(self.model.encoder(norm)).to(torch.int64).clamp(-(1 << 12), 1 << 12).numpy()
        pred = self.predict(z, mean, std).reshape(-1)[:n]
        step = 2 * bound
        r = np.round((x - pred) / step).astype(np.int64)
        recon = pred + r * step
        for _ in range(2):  # float rounding can leave an element a hair outside: nudge its residual
            bad = np.abs(x - recon) > bound
            if not bad.any():
                break
            r[bad] += np.sign(x[bad] - recon[bad]).astype(np.int64)
            recon = pred + r * step
        if np.any(np.abs(x - recon) > bound):
            raise AecError(f"error bound {bound:g} is too small for the magnitude of this data")
        # the prediction error is smooth where the autoencoder misses: residual differences are often cheaper
        plain, delta = _code_integers(r), _code_integers(np.diff(r, prepend=0))
        params = {"mean": mean, "std": std, "bound": bound, "n": n, "delta": len(delta) < len(plain)}
        return params, [_code_integers(z.reshape(-1)), delta if params["delta"] else plain]

    def decompress(self, params: dict, streams: list[bytes]) -> np.ndarray:
        n, windows = params["n"], max(1, math.ceil(params["n"] / WINDOW))
        z = _decode_integers(streams[0], windows * CODE).reshape(windows, CODE)
        r = _decode_integers(streams[1], n)
        if params.get("delta"):
            r = np.cumsum(r)
        pred = self.predict(z, params["mean"], params["std"]).reshape(-1)[:n]
        return pred + r * (2 * params["bound"])


def _code_integers(v: np.ndarray) -> bytes:
    """Integers -> a self-describing stream: (kind, offset, histogram) then ANS under the histogram's
    frequencies, or lzma when the range is too wide for a table."""
    if len(v) == 0:
        return struct.pack(">Bq", 0, 0) + zlib.compress(b"")
    lo, hi = int(v.min()), int(v.max())
    k = hi - lo + 1
    if k > MAX_ALPHABET:
        return struct.pack(">Bq", 1, lo) + lzma.compress((v - lo).astype("<u8").tobytes())
    counts = np.bincount(v - lo, minlength=k).astype("<u4")
    table = zlib.compress(counts.tobytes(), 9)
    body = encode_indices(v - lo, quantize_probabilities(counts.astype(np.float64))) if k > 1 else b""
    return struct.pack(">BqI", 0, lo, len(table)) + table + body


def _decode_integers(data: bytes, n: int) -> np.ndarray:
    try:
        kind, lo = struct.unpack_from(">Bq", data)
        if kind == 1:
            raw = lzma.LZMADecompressor().decompress(data[9:], max_length=8 * n + 8)  # no bombs: n values at most
            if len(raw) % 8:
                raise FormatError("corrupted array stream: partial value")
            v = np.frombuffer(raw, dtype="<u8").astype(np.int64) + lo
        elif kind == 0 and n == 0:
            return np.zeros(0, np.int64)
        elif kind == 0:
            (tlen,) = struct.unpack_from(">I", data, 9)
            table = zlib.decompressobj().decompress(data[13:13 + tlen], 4 * MAX_ALPHABET + 4)
            if len(table) % 4:
                raise FormatError("bad histogram")
            counts = np.frombuffer(table, dtype="<u4").astype(np.float64)
            if not 1 <= len(counts) <= MAX_ALPHABET:
                raise FormatError("bad histogram")
            body = data[13 + tlen:]
            v = decode_indices(body, quantize_probabilities(counts), n) + lo if len(counts) > 1 \
                else np.full(n, lo, np.int64)
        else:
            raise FormatError(f"unknown integer stream kind {kind}")
    except (struct.error, zlib.error, lzma.LZMAError, ValueError) as e:
        raise FormatError(f"corrupted array stream: {e}") from None
    if len(v) != n:
        raise FormatError("corrupted array stream: wrong number of values")
    return v


def export(model: SignalAE, path: Path, provenance: dict | None = None) -> Path:
    """Signal autoencoder -> fp16 weights file (the decoder's fixed-point twin is rebuilt from these values)."""
    header = {"family": "signal", "codec": "signal"}
    return weights_file.write(path, weights_file.half(model.state_dict()), header, provenance)


def load(path: Path, device: str = "cpu") -> SignalCodec:
    """Weights file -> a ready ``SignalCodec`` (CPU: the network is tiny and integer on the decoder side)."""
    model = SignalAE()
    try:
        model.load_state_dict({k: v.float() for k, v in weights_file.read_tensors(path).items()})
    except RuntimeError as e:
        raise ModelMismatchError(f"weights file {path} does not fit the signal autoencoder: {e}") from None
    return SignalCodec(model)
