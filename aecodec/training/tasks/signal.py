"""The signal array codec's task: its dense autoencoder, with a factorized entropy model of its latents, on
synthetic sensor-like signals."""
from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from compressai.entropy_models import EntropyBottleneck
from torch import Tensor, nn

from ...errors import AecError
from ...models.signal import CODE, HIDDEN, WINDOW, SignalAE
from ..batches import WindowSampler
from ..options import TaskOptions, TrainOptions, option
from ..synthetic import signals
from .base import Task
from .codec_layer import export_signal
from .common import parse_lambdas, read_state

DEFAULT_LAMBDA = "300"


@dataclass
class SignalOptions(TaskOptions):
    lambdas: str = option("", f"signal: its one lambda; '' = {DEFAULT_LAMBDA}")


class SignalRD(nn.Module):
    """The signal codec's autoencoder with a factorized entropy model of its latents (CompressAI's
    EntropyBottleneck), whose likelihoods are the rate term: the residual coder pays about one bit per sample
    for each halving of the prediction error, so lambda * MSE + latent bits balances the two."""

    def __init__(self):
        super().__init__()
        self.ae = SignalAE()
        self.eb = EntropyBottleneck(CODE)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Normalized windows [B, WINDOW] -> (prediction, latent likelihoods); noise stands in for rounding in
        training, eval mode rounds."""
        z_hat, likelihoods = self.eb(self.ae.encoder(x)[:, :, None])
        return self.ae.decoder(z_hat[:, :, 0]), likelihoods

    def aux_loss(self) -> Tensor:
        return self.eb.loss()


def signal_windows(n: int, seed: int) -> Tensor:
    """``n`` synthetic series of 8 windows, each normalized as the codec normalizes an array -> [8n, WINDOW]."""
    raw, _ = signals(n, length=WINDOW * 8, seed=seed)
    raw = (raw - raw.mean(1, keepdims=True)) / raw.std(1, keepdims=True)
    return torch.from_numpy(np.ascontiguousarray(raw.reshape(-1, WINDOW)))


class SignalTask(Task):
    """The ``signal`` array codec's dense autoencoder on synthetic sensor-like signals
    (``aecodec.training.synthetic.signals``): loss lambda * MSE + latent bits per sample, lambda from ``--lambdas``."""

    family = "signal"
    Options = SignalOptions
    options: SignalOptions
    default_data = "synthetic"
    columns = ("mse", "bits")
    val_columns = ("val_mse", "val_bits")

    def __init__(self, o: TrainOptions, options: SignalOptions, device: torch.device):
        if o.data not in ("", self.default_data):
            raise AecError(f"the signal codec trains on synthetic signals (--data synthetic), not {o.data!r}")
        super().__init__(o, options, device)
        lambdas = parse_lambdas(self.options.lambdas)
        if len(lambdas) != 1:
            raise AecError(f"the signal codec has one rate: one lambda, not --lambdas {self.options.lambdas}")
        self.lmbda = lambdas[0]

    def resolve(self, options: SignalOptions) -> SignalOptions:
        """The lambda left to the codec: ``DEFAULT_LAMBDA``."""
        return replace(options, lambdas=options.lambdas or DEFAULT_LAMBDA)

    def config(self, model: nn.Module) -> dict:
        return {"window": WINDOW, "hidden": HIDDEN, "code": CODE}

    def prepare(self, out: Path) -> None:
        self.train = signal_windows(4000, seed=100).to(self.device)
        self.val = signal_windows(250, seed=200).to(self.device)
        self.sampler = WindowSampler(len(self.train))

    def data_description(self) -> str:
        return ("aecodec.training.synthetic.signals(4000, length=512, seed=100), 64-sample windows normalized per "
                "series; validation: signals(250, length=512, seed=200)")

    def build(self, config: dict | None) -> nn.Module:
        model = SignalRD()
        if config or self.o.fresh:
            return model
        _, state = read_state(self.init_path, self.family)
        (model if self.init_path.suffix == ".pt" else model.ae).load_state_dict(state)
        return model

    def batch(self, model: nn.Module, gen: torch.Generator) -> tuple[Tensor, ...]:
        return (self.sampler.draw(self.o.batch, gen).cut(self.train),)

    def _loss(self, net: nn.Module, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x_hat, likelihoods = net(x)
        mse = (x_hat - x).pow(2).mean()
        bits = -torch.log2(likelihoods).sum() / x.numel()
        return self.lmbda * mse + bits, mse, bits

    def loss(self, net: nn.Module, model: nn.Module, batch: tuple[Tensor, ...],
             amp: AbstractContextManager) -> tuple[Tensor, dict[str, Tensor]]:
        loss, mse, bits = self._loss(net, batch[0])
        return loss, {"mse": mse, "bits": bits}

    @torch.no_grad()
    def validate(self, model: nn.Module) -> dict[str, float]:
        model.eval()
        loss, mse, bits = self._loss(model, self.val)
        model.train()
        return {"val_loss": loss.item(), "val_mse": mse.item(), "val_bits": bits.item()}

    def export(self, model: nn.Module, path: Path, provenance: dict) -> Path:
        provenance["loss"] = f"{self.lmbda} * MSE + latent bits per sample (EntropyBottleneck)"
        return export_signal(model.ae, path, provenance)
