"""Rate-distortion loss: lambda * 255^2 * MSE + bpp, per sample so each sample may train its own quality level."""
from __future__ import annotations

from dataclasses import dataclass

from pytorch_msssim import ms_ssim
from torch import Tensor

from ..models.hyperprior import bits_per_pixel


@dataclass
class RDLoss:
    loss: Tensor  # scalar, mean over the batch
    bpp: Tensor  # [B]
    mse: Tensor  # [B]



def rd_loss(x: Tensor, out: dict, lmbda: Tensor, metric: str = "mse") -> RDLoss:
    """``lmbda`` is per sample [B]. ``mse``: lambda * 255^2 * MSE + bpp (CompressAI's scaling); ``ms-ssim``:
    lambda * (1 - MS-SSIM) + bpp, with CompressAI's MS-SSIM lambdas (about 2.4 to 60)."""
    b, _, h, w = x.shape
    x_hat = out["x_hat"].float()
    mse = (x_hat - x).pow(2).flatten(1).mean(1)
    bpp = bits_per_pixel(out["likelihoods"], h * w)
    if metric == "mse":
        distortion = 255**2 * mse
    elif metric == "ms-ssim":
        distortion = 1 - ms_ssim(x_hat.clamp(0, 1), x, data_range=1.0, size_average=False)
    else:
        raise ValueError(f"unknown distortion metric {metric!r} (mse, ms-ssim)")
    loss = (lmbda * distortion + bpp).mean()
    return RDLoss(loss, bpp.detach(), mse.detach())


