"""Variable-rate mean-scale hyperprior (Minnen et al. 2018) with gain units (Cui et al., arXiv 2003.02012).

One network serves every quality: quality level ``l`` scales the latent by a learned per-channel gain before
rounding (a finer or coarser quantization step per channel) and by an inverse gain before synthesis. The
hyper-synthesis predicts mean and scale of the *ungained* latent; the gained latent's parameters follow exactly
(``mu * g``, ``sigma * g``), which lets the decoder compute them in fixed point (see ``aecodec.coding.fixedpoint``).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint_sequential

from .gdn import GDN

# CompressAI's zoo lambdas for MSE q1..q8: the training range of the quality levels.
DEFAULT_LAMBDAS = (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800)


@dataclass(frozen=True)
class HyperpriorConfig:
    """Architecture and rate range; stored in every checkpoint so a model is rebuilt from the file alone."""

    N: int = 128
    M: int = 256
    lambdas: tuple[float, ...] = field(default=DEFAULT_LAMBDAS)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "HyperpriorConfig":
        return cls(N=int(d["N"]), M=int(d["M"]), lambdas=tuple(float(v) for v in d["lambdas"]))


def bits_per_pixel(likelihoods: dict[str, Tensor], num_pixels: int) -> Tensor:
    """Per-sample bpp from likelihoods (the ideal code length, -log2 p)."""
    total = sum(torch.log(lik).flatten(1).sum(1) for lik in likelihoods.values())
    return total / (-math.log(2) * num_pixels)


def conv(cin: int, cout: int, k: int = 5, s: int = 2) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=s, padding=k // 2)


def deconv(cin: int, cout: int, k: int = 5, s: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, k, stride=s, padding=k // 2, output_padding=s - 1)


def analysis(N: int, M: int) -> nn.Sequential:
    """Ballé et al.'s g_a (four stride-2 5x5 convolutions with GDN between): CompressAI's too, same names."""
    return nn.Sequential(conv(3, N), GDN(N), conv(N, N), GDN(N), conv(N, N), GDN(N), conv(N, M))


def synthesis(N: int, M: int) -> nn.Sequential:
    """The mirror of ``analysis``: transposed convolutions with inverse GDN."""
    return nn.Sequential(deconv(M, N), GDN(N, inverse=True), deconv(N, N), GDN(N, inverse=True),
                         deconv(N, N), GDN(N, inverse=True), deconv(N, 3))


def hyper_analysis(N: int, M: int, activation: type[nn.Module] = nn.LeakyReLU) -> nn.Sequential:
    """h_a: latent -> hyper-latent (two more stride-2 downsamplings)."""
    return nn.Sequential(conv(M, N, 3, 1), activation(inplace=True), conv(N, N), activation(inplace=True),
                         conv(N, N))


def ste_round(x: Tensor) -> Tensor:
    """Round in the forward pass, identity gradient in the backward pass."""
    return x + (torch.round(x) - x).detach()


class Hyperprior(nn.Module):
    """Transforms, gains and (for training) the entropy models; coding itself lives in ``aecodec.codecs``.
    Decoders build it with ``entropy_models=False``: they parse under stored integer tables, and CompressAI
    (whose entropy models these are) then stays unloaded."""

    stride = 64  # 4 downsamplings in g_a, 2 more in h_a

    def __init__(self, config: HyperpriorConfig = HyperpriorConfig(), entropy_models: bool = True):
        super().__init__()
        self.config = config
        N, M, L = config.N, config.M, len(config.lambdas)
        self.g_a, self.g_s, self.h_a = analysis(N, M), synthesis(N, M), hyper_analysis(N, M, nn.LeakyReLU)
        # ReLU only: exact in integer arithmetic (aecodec.coding.fixedpoint mirrors this structure).
        self.h_s = nn.Sequential(
            deconv(N, N), nn.ReLU(inplace=True), deconv(N, N), nn.ReLU(inplace=True), conv(N, 2 * M, 3, 1)
        )
        self.grad_checkpointing = False
        if entropy_models:
            from compressai.entropy_models import EntropyBottleneck, GaussianConditional

            self.entropy_bottleneck = EntropyBottleneck(N)
            self.gaussian_conditional = GaussianConditional(None)
        lam = torch.tensor(config.lambdas, dtype=torch.float32)
        # MSE-optimal step size shrinks like 1/sqrt(lambda): start the gains there.
        init = 0.5 * torch.log(lam / lam.log().mean().exp())
        self.log_gain = nn.Parameter(init[:, None].repeat(1, M))
        self.log_inv_gain = nn.Parameter(-init[:, None].repeat(1, M))
        self.log_hyper_gain = nn.Parameter(torch.zeros(L, N))
        self.log_inv_hyper_gain = nn.Parameter(torch.zeros(L, N))

    @property
    def num_levels(self) -> int:
        return len(self.config.lambdas)

    def gains(self, level: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Per-sample gains for integer levels (shape [B]) as [B, C, 1, 1] tensors."""
        pick = lambda p: p.exp()[level][:, :, None, None]  # noqa: E731
        return (pick(self.log_gain), pick(self.log_inv_gain),
                pick(self.log_hyper_gain), pick(self.log_inv_hyper_gain))

    def forward(self, x: Tensor, level: Tensor) -> dict[str, Tensor]:
        """Training pass: noise for the rate terms, straight-through rounding for what the decoders see."""
        g, ig, hg, ihg = self.gains(level)
        y = self.analysis(x)
        z = self.hyper_latent(y, hg).float()
        with torch.autocast(x.device.type, enabled=False):  # entropy models stay fp32 under AMP
            _, z_likelihoods = self.entropy_bottleneck(z)
        z_hat = ste_round(z)
        mu, sigma = self.hyper_parameters(z_hat, ihg).float().chunk(2, 1)
        mu_g, sigma_g = mu * g, sigma * g
        y_g = y.float() * g
        with torch.autocast(x.device.type, enabled=False):
            _, y_likelihoods = self.gaussian_conditional(y_g, sigma_g, means=mu_g)
        y_hat = ste_round(y_g - mu_g) + mu_g
        x_hat = self.synthesis(y_hat * ig)
        return {"x_hat": x_hat, "likelihoods": {"y": y_likelihoods, "z": z_likelihoods}}

    # -- the hyper path, shared by training, the codecs, refinement and the context model -------------------
    def hyper_latent(self, y: Tensor, hyper_gain: Tensor) -> Tensor:
        """Latent -> gained hyper-latent (rounded by the caller: noise in training, round() in the codecs)."""
        return self.h_a(y) * hyper_gain

    def hyper_parameters(self, z_hat: Tensor, inv_hyper_gain: Tensor) -> Tensor:
        """Quantized gained hyper-latent -> the *ungained* latent's (mean, scale) along dim 1, in float. The
        codecs compute the same in integers (``aecodec.coding.fixedpoint.IntHyperSynthesis``)."""
        return self.h_s(z_hat * inv_hyper_gain)

    def analysis(self, x: Tensor) -> Tensor:
        """Image [B, 3, H, W] (H, W multiples of 16) -> latent [B, M, H/16, W/16], before any gain."""
        return self._transform(self.g_a, x)

    def synthesis(self, y: Tensor) -> Tensor:
        """Latent (after the inverse gain) -> image, not clamped."""
        return self._transform(self.g_s, y)

    def _transform(self, seq: nn.Sequential, x: Tensor) -> Tensor:
        """Run a transform; with ``grad_checkpointing`` set, recompute its activations in the backward pass
        (less GPU memory for large batches or patches)."""
        if self.grad_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint_sequential(seq, 2, x, use_reentrant=False)
        return seq(x)

    def aux_loss(self) -> Tensor:
        return self.entropy_bottleneck.loss()
