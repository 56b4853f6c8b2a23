"""Classic autoencoder architectures as small, reusable modules.

Every model's ``forward`` returns ``(reconstruction, code)`` (the VAE also returns its posterior), so one training
loop and one set of metrics serve all of them.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "identity": nn.Identity}


def init_weights(module: nn.Module, scheme: str = "xavier") -> nn.Module:
    """Xavier (Glorot, for tanh/sigmoid/linear) or He (Kaiming, for ReLU) initialisation of every linear and
    convolution weight; biases to zero."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)):
            if scheme == "xavier":
                nn.init.xavier_uniform_(m.weight)
            elif scheme == "he":
                nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
            else:
                raise ValueError(f"unknown init {scheme!r} (xavier, he)")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


def mlp(sizes: list[int], act: str = "relu", last: str = "identity", dropout: float = 0.0,
        batchnorm: bool = False) -> nn.Sequential:
    """Linear layers through ``sizes``; ``act`` between them (with optional batch norm and dropout), ``last``
    after the final one."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            if batchnorm:
                layers.append(nn.BatchNorm1d(b))
            layers.append(ACTIVATIONS[act]())
            if dropout:
                layers.append(nn.Dropout(dropout))
    layers.append(ACTIVATIONS[last]())
    return nn.Sequential(*layers)


class DenseAE(nn.Module):
    """Fully connected encoder ``sizes`` (input first, code last) and a mirrored decoder. A code wider than
    the input makes it overcomplete (then regularize: sparsity, noise or a contractive penalty)."""

    def __init__(self, sizes: list[int], act: str = "relu", code_act: str = "identity", out_act: str = "identity",
                 dropout: float = 0.0, batchnorm: bool = False, init: str = "xavier"):
        super().__init__()
        self.encoder = mlp(sizes, act, code_act, dropout, batchnorm)
        self.decoder = mlp(sizes[::-1], act, out_act, dropout, batchnorm)
        init_weights(self, init)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encoder(x)
        return self.decoder(h), h


class TiedAE(nn.Module):
    """Dense autoencoder whose decoder uses the transposed encoder weights (the same tensors, not copies):
    half the parameters, and a symmetric map."""

    def __init__(self, sizes: list[int], act: str = "sigmoid", out_act: str = "identity"):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.decoder_bias = nn.ParameterList(nn.Parameter(torch.zeros(a)) for a in sizes[:-1])
        self.act, self.out_act = ACTIVATIONS[act](), ACTIVATIONS[out_act]()
        init_weights(self)

    def encode(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = self.act(layer(x))
        return x

    def decode(self, h: Tensor) -> Tensor:
        for i in reversed(range(len(self.layers))):
            h = F.linear(h, self.layers[i].weight.t(), self.decoder_bias[i])
            h = self.act(h) if i else self.out_act(h)
        return h

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encode(x)
        return self.decode(h), h


class ConvAE(nn.Module):
    """Strided convolutions down, transposed convolutions up; with ``skips`` it is a U-Net (each decoder
    stage also sees the encoder features of its resolution) and with ``residual`` each stage adds a
    residual 3x3 block."""

    def __init__(self, channels: int = 1, widths: tuple[int, ...] = (16, 32), code: int = 8, skips: bool = False,
                 residual: bool = False, out_act: str = "sigmoid"):
        super().__init__()
        self.skips = skips
        chans = [channels, *widths]
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(a, b, 3, 2, 1), nn.ReLU(), *([Residual(b)] if residual else []))
            for a, b in zip(chans[:-1], chans[1:]))
        self.to_code = nn.Conv2d(chans[-1], code, 1)
        self.from_code = nn.Conv2d(code, chans[-1], 1)
        ups = []
        for i in reversed(range(1, len(chans))):
            cin = chans[i] * (2 if skips else 1)
            cout = max(chans[i - 1], widths[0])  # the last stage keeps features for the output head
            ups.append(nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.ReLU(),
                                     *([Residual(cout)] if residual else [])))
        self.up = nn.ModuleList(ups)
        self.head = nn.Sequential(nn.Conv2d(widths[0], channels, 3, 1, 1), ACTIVATIONS[out_act]())
        init_weights(self, "he")

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        feats = []
        for d in self.down:
            x = d(x)
            feats.append(x)
        h = self.to_code(x)
        x = self.from_code(h)
        for u, f in zip(self.up, reversed(feats)):
            x = u(torch.cat([x, f], 1) if self.skips else x)
        return self.head(x), h


class Residual(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1), nn.ReLU(), nn.Conv2d(c, c, 3, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class VAE(nn.Module):
    """Gaussian VAE (Kingma and Welling 2014): the encoder gives mean and log-variance, codes are sampled by
    reparameterisation, ``beta`` > 1 weighs the KL up (beta-VAE, Higgins et al. 2017)."""

    def __init__(self, sizes: list[int], act: str = "relu", beta: float = 1.0, out_act: str = "identity"):
        super().__init__()
        self.beta = beta
        self.encoder = mlp(sizes[:-1] + [2 * sizes[-1]], act)
        self.decoder = mlp(sizes[::-1], act, out_act)

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.encoder(x).chunk(2, -1)
        return mu, logvar.clamp(-12, 8)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        mu, logvar = self.posterior(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.training else mu
        return self.decoder(z), z, mu, logvar


class Seq2SeqAE(nn.Module):
    """LSTM sequence-to-sequence autoencoder for sequences [B, T, F]: a bidirectional LSTM encoder keeps one
    ``code``-wide vector every ``stride`` steps (the bottleneck: T / stride codes), and an LSTM decoder,
    fed the codes repeated back to length T, attends (scaled dot-product, Luong et al. 2015) over all codes."""

    def __init__(self, features: int = 1, hidden: int = 32, code: int = 4, stride: int = 4):
        super().__init__()
        self.stride = stride
        self.encoder = nn.LSTM(features, hidden, batch_first=True, bidirectional=True)
        self.to_code = nn.Linear(2 * hidden, code)
        self.decoder = nn.LSTM(code, hidden, batch_first=True)
        self.query = nn.Linear(hidden, code)
        self.out = nn.Linear(hidden + code, features)

    def encode(self, x: Tensor) -> Tensor:
        return self.to_code(self.encoder(x)[0][:, self.stride - 1::self.stride])  # [B, T / stride, code]

    def decode(self, codes: Tensor, length: int) -> Tensor:
        step_code = (torch.arange(length, device=codes.device) // self.stride).clamp(max=codes.shape[1] - 1)
        dec, _ = self.decoder(codes[:, step_code])
        attn = torch.softmax(self.query(dec) @ codes.transpose(1, 2) / codes.shape[-1] ** 0.5, -1)
        return self.out(torch.cat([dec, attn @ codes], -1))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        codes = self.encode(x)
        return self.decode(codes, x.shape[1]), codes


class StackedAE(nn.Module):
    """Deep autoencoder built from one-layer autoencoders: ``pretrain`` trains layer k to reconstruct the codes
    of layer k-1 (greedy, Bengio et al. 2007), then the whole stack is fine-tuned end to end as usual."""

    def __init__(self, sizes: list[int], act: str = "sigmoid"):
        super().__init__()
        self.stages = nn.ModuleList(DenseAE([a, b], act, code_act=act) for a, b in zip(sizes[:-1], sizes[1:]))

    def encode(self, x: Tensor, depth: int | None = None) -> Tensor:
        for s in self.stages[:depth]:
            x = s.encoder(x)
        return x

    def decode(self, h: Tensor) -> Tensor:
        for s in reversed(self.stages):
            h = s.decoder(h)
        return h

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encode(x)
        return self.decode(h), h

    def pretrain(self, x: Tensor, steps: int = 200, lr: float = 1e-2) -> list[float]:
        """Greedy layer-wise pretraining on data ``x``; returns each stage's final reconstruction loss."""
        losses = []
        for k, stage in enumerate(self.stages):
            inputs = self.encode(x, k).detach()
            opt = torch.optim.Adam(stage.parameters(), lr=lr)
            for _ in range(steps):
                recon, _ = stage(inputs)
                loss = F.mse_loss(recon, inputs)
                opt.zero_grad()
                loss.backward()
                opt.step()
            losses.append(loss.item())
        return losses


class AdversarialAE(nn.Module):
    """Adversarial autoencoder (Makhzani et al. 2016): a discriminator tells prior samples from codes, and the
    encoder learns to fool it, which matches the code distribution to the prior (standard normal here)."""

    def __init__(self, sizes: list[int], act: str = "relu", disc_hidden: int = 64):
        super().__init__()
        self.ae = DenseAE(sizes, act)
        code = sizes[-1]
        self.discriminator = mlp([code, disc_hidden, disc_hidden, 1], "relu")

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.ae(x)

    def losses(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(reconstruction, discriminator, generator) losses of one batch."""
        x_hat, h = self(x)
        prior = torch.randn_like(h)
        real, fake = self.discriminator(prior), self.discriminator(h.detach())
        d_loss = F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + \
            F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
        g_out = self.discriminator(h)
        g_loss = F.binary_cross_entropy_with_logits(g_out, torch.ones_like(g_out))
        return F.mse_loss(x_hat, x), d_loss, g_loss
