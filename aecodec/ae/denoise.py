"""Image denoising with a trained convolutional denoising autoencoder (U-Net style skips): ``aecodec denoise``.

Trained blind on Gaussian noise of standard deviation 5 to 50 (out of 255) by ``scripts/train_denoiser.py``;
large images run in overlapping tiles so memory stays bounded.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..codecs.weights_file import half, read_tensors, write
from ..registry import WEIGHTS_DIR
from ..tiling import windowed
from .models import ConvAE

WEIGHTS = WEIGHTS_DIR / "denoiser.safetensors"
TILE, MARGIN = 256, 16


def make_denoiser() -> ConvAE:
    return ConvAE(3, (48, 96), code=64, skips=True, residual=True, out_act="sigmoid")


def load_denoiser(path: Path = WEIGHTS) -> ConvAE:
    model = make_denoiser()
    model.load_state_dict({k: v.float() for k, v in read_tensors(path).items()})
    return model.eval()


def save_denoiser(model: ConvAE, path: Path = WEIGHTS) -> None:
    write(path, half(model.state_dict()), {"family": "denoiser"}, None)


@torch.no_grad()
def denoise_tensor(model: ConvAE, x: torch.Tensor) -> torch.Tensor:
    """x [1, 3, H, W] in [0, 1] -> denoised, in tiles of TILE with MARGIN pixels of context on each side."""
    def run(part: torch.Tensor) -> torch.Tensor:
        ph, pw = -part.shape[2] % 4, -part.shape[3] % 4  # two stride-2 stages
        return model(F.pad(part, (0, pw, 0, ph), mode="replicate"))[0]

    _, _, h, w = x.shape
    out = torch.empty_like(x)
    for top, left, y in windowed(run, x, TILE, MARGIN):
        th, tw = min(TILE, h - top), min(TILE, w - left)
        out[:, :, top:top + th, left:left + tw] = y[:, :, :th, :tw]
    return out


def denoise(image: Image.Image, model: ConvAE | None = None) -> Image.Image:
    """Denoise an RGB(A)/L image; alpha is kept, grayscale stays grayscale."""
    from ..image import open_image, to_uint8

    im = open_image(image)
    mode = im.mode
    rgb = im.convert("RGB")
    x = torch.from_numpy(np.asarray(rgb).copy()).permute(2, 0, 1)[None].float() / 255
    y = Image.fromarray(to_uint8(denoise_tensor(model or load_denoiser(), x)), "RGB")
    if mode in ("L", "LA", "1", "I;16", "I"):
        y = y.convert("L")
    if "A" in mode:
        y.putalpha(im.getchannel("A"))
    return y
