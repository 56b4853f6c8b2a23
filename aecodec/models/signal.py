"""The dense autoencoder of the ``signal`` array codec: windows of normalized samples -> a few latents -> back."""
from __future__ import annotations

import torch
from torch import Tensor, nn

WINDOW = 64
CODE = 8
HIDDEN = 64

class SignalAE(nn.Module):
    """Dense autoencoder of normalized windows; ReLU only in the decoder, so its fixed-point twin is exact."""

    def __init__(self, window: int = WINDOW, hidden: int = HIDDEN, code: int = CODE):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(window, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                                     nn.Linear(hidden, code))
        self.decoder = nn.Sequential(nn.Linear(code, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                     nn.Linear(hidden, window))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Training pass: uniform noise stands in for rounding the latents."""
        z = self.encoder(x)
        z_noisy = z + torch.rand_like(z) - 0.5 if self.training else torch.round(z)
        return self.decoder(z_noisy), z

