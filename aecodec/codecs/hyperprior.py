"""The hyperprior codec: image tensor <-> entropy-coded streams, with bit-exact parsing.

Parsing depends only on integers: z symbols, the integer hyper-synthesis (``aecodec.coding.fixedpoint``), integer gains
and stored CDF tables. Floats touch only the analysis transform (the encoder's choice of symbols) and the
synthesis transform (pixels).
"""
from __future__ import annotations

import json
import math
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..coding.fixedpoint import FRAC_A, FRAC_G, IntHyperSynthesis, shift_round, to_fixed
from ..coding.rans import RansCoder
from ..coding.tables import (CdfTable, bottleneck_tables, gaussian_tables, scale_table, table_from_tensors,
                             table_tensors)
from ..contract import Coded
from ..errors import FormatError, ModelMismatchError
from ..models.hyperprior import Hyperprior, HyperpriorConfig
from ..models.postfilter import PostFilter
from . import inference, weights
from .refine import EFFORT_ITERATIONS, refine_latents

QSTEPS = 16  # quality is stored in 1/16 steps: fractional qualities interpolate between trained levels


@contextmanager
def thread_invariant() -> Iterator[None]:
    """The fallback where oneDNN's forward kernels are missing (``aecodec.codecs.inference``): oneDNN's
    transposed convolutions sum in an order that depends on the thread count; PyTorch's native kernels for them
    do not."""
    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before


def crop_latent(x: Tensor, y: Tensor, crop: tuple[int, int, int, int]) -> tuple[Tensor, Tensor]:
    """(images, their latents) -> both cut to ``crop`` = (top, left, height, width) in pixels."""
    t, l, h, w = crop
    s = x.shape[-1] // y.shape[-1]  # pixels per latent
    if t % s or l % s or h % s or w % s:
        raise ValueError(f"crop {crop} is not on the latent grid ({s} pixels)")
    return x[..., t:t + h, l:l + w], y[..., t // s:(t + h) // s, l // s:(l + w) // s].contiguous()


class Side(NamedTuple):
    """What the hyper-latent tells the decoder about the latent, all integers: z symbols, ungained (mean, scale)
    [1, 2M, h, w] and, gained for the quality, the scale table indexes and means (FRAC_A fixed point)."""

    z_hat: Tensor
    params: Tensor
    idx: Tensor
    mu_g: Tensor


class HyperpriorCodec:
    """A loaded model, ready to code (no update step): float transforms plus the integer parsing path.
    Implements ``aecodec.contract.ImageCodec``."""


    def __init__(self, model: Hyperprior, fixed: dict[str, Tensor], z_table: CdfTable, y_table: CdfTable,
                 device: str = "cpu"):
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.h_s = IntHyperSynthesis(model.h_s.cpu())
        model.h_s.to(self.device)
        self.gain_fixed = fixed["gain"].long()  # [L, M], FRAC_G bits
        self.inv_hyper_gain_fixed = fixed["inv_hyper_gain"].long()  # [L, N], FRAC_A bits
        self.scale_bounds = fixed["scale_bounds"].long()  # [S-1], FRAC_A bits
        self.z_coder = RansCoder(z_table)
        self.y_coder = RansCoder(y_table)
        self.post_filter: PostFilter | None = None  # pixels only (aecodec.codecs.postfilter)
        self._fast_g_s: inference.FastSequential | None = None  # built on the first CPU decode
        self._fast_g_a: inference.FastSequential | None = None  # built on the first CPU encode

    @property
    def stride(self) -> int:
        return self.model.stride

    @property
    def levels(self) -> int:
        return self.model.num_levels

    def quality_range(self) -> tuple[float, float]:
        return 1.0, float(self.levels)

    # -- gains -------------------------------------------------------------------------------------------
    def _split(self, q16: int) -> tuple[int, int]:
        lo, frac = divmod(q16 - QSTEPS, QSTEPS)
        if lo >= self.levels - 1:
            lo, frac = self.levels - 2, QSTEPS
        return lo, frac

    def _int_gain(self, table: Tensor, q16: int) -> Tensor:
        """Integer linear interpolation between levels: identical on every machine."""
        lo, frac = self._split(q16)
        return (table[lo] * (QSTEPS - frac) + table[lo + 1] * frac + QSTEPS // 2) // QSTEPS

    def _float_gain(self, log_table: Tensor, q16: int) -> Tensor:
        """Geometric interpolation for the gains that touch only encoder choices or pixels."""
        lo, frac = self._split(q16)
        t = frac / QSTEPS
        return ((1 - t) * log_table[lo] + t * log_table[lo + 1]).exp()[None, :, None, None]

    def inverse_gain(self, q16: int) -> Tensor:
        """The float gain [1, M, 1, 1] that takes a decoded gained latent back to the synthesis' scale."""
        return self._float_gain(self.model.log_inv_gain.to(self.device), q16)

    def latent_gain(self, q16: int) -> Tensor:
        """The latent's integer gain as float64 [1, M, 1, 1]: what the encoder multiplies latents by."""
        return self._int_gain(self.gain_fixed, q16).to(torch.float64)[None, :, None, None] / (1 << FRAC_G)

    def lmbda(self, q16: int) -> float:
        """The rate-distortion trade-off a quality stands for (geometric between trained levels)."""
        lo, frac = self._split(q16)
        lams = self.model.config.lambdas
        return math.exp((1 - frac / QSTEPS) * math.log(lams[lo]) + frac / QSTEPS * math.log(lams[lo + 1]))

    # -- entropy parameters (exact) ----------------------------------------------------------------------
    def side(self, z_hat: Tensor, q16: int) -> Side:
        """Integer z [1, N, h, w] -> the latent's entropy parameters (``Side``)."""
        ihg = self._int_gain(self.inv_hyper_gain_fixed, q16)[None, :, None, None]
        params = self.h_s(z_hat * ihg)
        return Side(z_hat, params, *self._gained(params, q16))

    def _gained(self, params: Tensor, q16: int) -> tuple[Tensor, Tensor]:
        """Ungained (mean, scale) along dim 1 -> (scale table indexes, gained means), FRAC_A fixed point."""
        mu, sigma = params.chunk(2, 1)
        g = self._int_gain(self.gain_fixed, q16).view((1, -1) + (1,) * (params.dim() - 2))
        mu_g = shift_round(mu * g, FRAC_G)
        sigma_g = shift_round(sigma * g, FRAC_G)
        idx = torch.searchsorted(self.scale_bounds, sigma_g.reshape(-1).contiguous()).reshape(sigma_g.shape)
        return idx, mu_g

    def _z_indexes(self, shape: tuple[int, ...]) -> Tensor:
        n = shape[1]
        return torch.arange(n).view(1, n, 1, 1).expand(shape)

    # -- coding --------------------------------------------------------------------------------------------
    @staticmethod
    def digest(symbols: Tensor) -> int:
        """CRC-32 of symbols (little-endian int32): lets the decoder prove it parsed what the encoder wrote."""
        return zlib.crc32(symbols.to(torch.int32).numpy().astype("<i4").tobytes())

    def compress(self, x: Tensor, q16: int, effort: int = 0) -> Coded:
        """x: [1, 3, H, W] in [0, 1], H and W multiples of ``Hyperprior.stride`` -> ([z stream, y stream],
        (z digest, y digest)). ``effort`` > 0 refines the latents for this image (``aecodec.codecs.refine``)."""
        return self.compress_batch(x, q16, effort)[0]

    @torch.no_grad()
    def compress_batch(self, x: Tensor, q16: int, effort: int = 0,
                       crop: tuple[int, int, int, int] | None = None) -> list[Coded]:
        """``compress`` for a batch [B, 3, H, W] of same-size images: one pass of the analysis transforms
        (the GPU's throughput), then each image's own streams. Refinement runs per image, so a file never
        depends on its batch. ``crop``: see ``aecodec.contract.ImageCodec``."""
        if effort not in EFFORT_ITERATIONS:
            raise ValueError(f"effort must be one of {sorted(EFFORT_ITERATIONS)}, not {effort}")
        x, y, z, g = self.analyze(x, q16, crop)
        if effort:
            ihg = self._int_gain(self.inv_hyper_gain_fixed, q16)[None, :, None, None] / (1 << FRAC_A)
            gains = [t.float().to(self.device) for t in (g, self.inverse_gain(q16), ihg)]
        results = []
        for b in range(x.shape[0]):
            y_g, z_b = y[b:b + 1].cpu().to(torch.float64) * g, z[b:b + 1]
            if effort:
                y_r, z_b = refine_latents(self.model, x[b:b + 1], y_g.float().to(self.device), z_b, gains,
                                          self.lmbda(q16), EFFORT_ITERATIONS[effort])
                y_g = y_r.cpu().to(torch.float64)
            z_stream, side = self.code_hyper(z_b, q16)
            y_stream, symbols = self.code_latent(y_g, side, q16)
            results.append(Coded([z_stream, y_stream], (self.digest(side.z_hat), self.digest(symbols))))
        return results

    @staticmethod
    def symbols(y_g: Tensor, mu_g: Tensor) -> Tensor:
        """The integers coded for gained latents (float64) under gained means (FRAC_A fixed point)."""
        return torch.round(y_g - mu_g.to(torch.float64) / (1 << FRAC_A)).to(torch.int64)

    def quantize(self, y_g: Tensor, side: Side, q16: int) -> tuple[Tensor, Tensor]:
        """Gained latent (float64) -> (integer symbols, the gained means they are offsets from): exactly what the
        decoder will reconstruct (``dequantize``), without entropy coding."""
        return self.symbols(y_g, side.mu_g), side.mu_g

    @staticmethod
    def dequantize(symbols: Tensor, mu_g: Tensor) -> Tensor:
        """Symbols and gained means (FRAC_A fixed point) -> the decoded gained latent, float64."""
        return symbols.to(torch.float64) + mu_g.to(torch.float64) / (1 << FRAC_A)

    def code_latent(self, y_g: Tensor, side: Side, q16: int) -> tuple[bytes, Tensor]:
        """Gained latent (float64) under the hyperprior's parameters -> (y stream, integer symbols)."""
        symbols, _ = self.quantize(y_g, side, q16)
        return self.y_coder.encode(symbols, side.idx), symbols

    def parse_latent(self, stream: bytes, side: Side, q16: int) -> tuple[Tensor, Tensor]:
        """Decoder side of ``code_latent``: (integer symbols, the gained means they are offsets from)."""
        return self.y_coder.decode(stream, side.idx), side.mu_g

    def decompress(self, streams: list[bytes], height: int, width: int, q16: int,
                   digests: tuple[int, ...]) -> Tensor:
        """Streams of an image padded to ``height`` x ``width`` -> x_hat [1, 3, height, width] in [0, 1].
        Each stream's symbols are checked against the encoder's digest as soon as they are decoded, so damage
        is reported before the expensive steps."""
        return self.decompress_batch([Coded(streams, digests)], height, width, q16)

    @torch.no_grad()
    def decompress_batch(self, items: list[Coded], height: int, width: int, q16: int) -> Tensor:
        """``decompress`` for several same-size images (streams, digests): each is parsed on its own (the
        integer path), then one synthesis pass makes all the pixels, [B, 3, height, width]."""
        return self.synthesize(self.decode_latents(items, height, width, q16), q16)

    def decode_latents(self, items: list[Coded], height: int, width: int, q16: int) -> Tensor:
        """The parsing half of ``decompress_batch``: the decoded (gained) latents [B, M, h, w], float64, which
        ``synthesize`` turns into pixels; the API synthesizes large images in windows of them."""
        y_hats = []
        for streams, digests in items:
            side = self.parse_hyper(streams[0], digests[0], height, width, q16)
            symbols, mu_g = self.parse_latent(streams[1], side, q16)
            if self.digest(symbols) != digests[1]:
                raise FormatError("corrupted .aec payload: latent symbols fail their check")
            y_hats.append(self.dequantize(symbols, mu_g))
        return torch.cat(y_hats)

    # -- the one hyper path, shared with the codecs built on these transforms (checkerboard, vq) ------------
    def analyze(self, x: Tensor, q16: int, crop: tuple[int, int, int, int] | None = None
                ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Images [B, 3, H, W] -> (x on the device, latent y, gained hyper-latent z, the latent's integer gain
        as float64 [1, M, 1, 1]): the analysis every encoder on these transforms starts from. With ``crop``
        (top, left, height, width: pixels, multiples of 16) the analysis sees all of x, and x and y are then
        cut to the crop: a tile's latents computed with its neighbours' pixels in view."""
        x = x.to(self.device)
        m = self.model
        if inference.available(self.device) and m.aux_a is None and inference.supported(m.g_a):
            self._fast_g_a = self._fast_g_a or inference.FastSequential(m.g_a)
            y = self._fast_g_a(x)  # the same latents at any thread count, and faster
        else:
            y = m.analysis(x).float()
        if crop is not None:
            x, y = crop_latent(x, y, crop)
        return x, y, self.hyper_latent(y, q16), self.latent_gain(q16)

    def hyper_latent(self, y: Tensor, q16: int) -> Tensor:
        """Latent -> gained hyper-latent (float, before rounding)."""
        return self.model.hyper_latent(y, self._float_gain(self.model.log_hyper_gain.to(self.device), q16))

    def side_of(self, z: Tensor, q16: int) -> Side:
        """Gained hyper-latent [1, N, h, w] -> its symbols and the side information of the latent."""
        return self.side(torch.round(z).cpu().to(torch.int64), q16)

    def code_hyper(self, z: Tensor, q16: int) -> tuple[bytes, Side]:
        """Gained hyper-latent [1, N, h, w] -> (z stream, the side information every latent symbol is coded
        under)."""
        side = self.side_of(z, q16)
        return self.z_coder.encode(side.z_hat, self._z_indexes(side.z_hat.shape)), side

    @staticmethod
    def offsets(y: Tensor, g: Tensor, side: Side) -> Tensor:
        """Latent [1, M, h, w] -> gained and mean-removed (float64): what a quantizer rounds or vector-codes."""
        return y.cpu().to(torch.float64) * g - side.mu_g.to(torch.float64) / (1 << FRAC_A)

    def parse_hyper(self, stream: bytes, digest: int, height: int, width: int, q16: int) -> Side:
        """Decoder side of ``code_hyper``: the side information, z checked."""
        s = self.model.stride
        z_hat = self.z_coder.decode(stream, self._z_indexes((1, self.model.config.N, height // s, width // s)))
        if self.digest(z_hat) != digest:
            raise FormatError("corrupted .aec payload: hyper-latent symbols fail their check")
        return self.side(z_hat, q16)

    @torch.no_grad()
    def synthesize(self, y_hat_g: Tensor, q16: int) -> Tensor:
        """Gained decoded latents [B, M, h, w] (float64) -> pixels [B, 3, H, W] in [0, 1], thread-invariant."""
        x = self.synthesis(y_hat_g, q16)
        if self.post_filter is not None:
            level = torch.full((x.shape[0],), (q16 - QSTEPS) / QSTEPS, device=x.device)
            x = self.post_filter(x, level, inference.conv2d if self._fast_synthesis() else F.conv2d)
        return x.clamp_(0, 1)

    @torch.no_grad()
    def synthesis(self, y_hat_g: Tensor, q16: int) -> Tensor:
        """The synthesis transform's output for gained decoded latents, before any post-filter and clamping:
        what the decoder filters, and so what a post-filter trains on."""
        m = self.model
        y_hat = y_hat_g.float().to(self.device) * self.inverse_gain(q16)
        if self._fast_synthesis():
            self._fast_g_s = self._fast_g_s or inference.FastSequential(m.g_s)
            return self._fast_g_s(y_hat)
        with thread_invariant():
            return m.synthesis(y_hat)

    def _fast_synthesis(self) -> bool:
        m = self.model
        return inference.available(self.device) and m.aux_s is None and inference.supported(m.g_s)


def export(state: dict[str, Tensor], config: HyperpriorConfig, path: Path, provenance: dict | None = None,
           codec: str | None = None) -> Path:
    """Write a trained model as a weights file: fp16 parameters, then everything the decoder needs to parse
    (fixed-point gains, scale thresholds, CDF tables) computed once, here, and stored as integers. ``codec``
    names the registered codec the file is for (``hyperprior``, ``hyperprior-msssim``)."""
    model = Hyperprior(config)
    model.load_state_dict(state)
    params = weights.half(dict(model.named_parameters()))
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
    if codec:
        meta["codec"] = codec
    return weights.write(path, tensors, meta, provenance)


def load(path: Path, device: str = "cpu") -> HyperpriorCodec:
    """Weights file -> a ready ``HyperpriorCodec``."""
    meta = weights.weights_metadata(path)
    config = HyperpriorConfig.from_dict(json.loads(meta["config"]))
    tensors = weights.read_tensors(path)
    model = Hyperprior(config)
    float_params = {k: v.float() for k, v in tensors.items() if not k.startswith(("fixed.", "table."))}
    missing, unexpected = model.load_state_dict(float_params, strict=False)
    params = {k for k, _ in model.named_parameters()}
    if unexpected or params.intersection(missing):  # constant buffers are rebuilt by the constructor
        raise ModelMismatchError(f"weights file {path} does not match its config: {missing or unexpected}")
    fixed = {k[len("fixed."):]: v for k, v in tensors.items() if k.startswith("fixed.")}
    return HyperpriorCodec(model, fixed, table_from_tensors("table.z", tensors),
                           table_from_tensors("table.y", tensors), device)
