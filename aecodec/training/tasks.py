"""What differs between the codecs one training loop trains: a *task* per codec builds the model (from scratch,
warm-started from weights, or from a checkpoint's config), loads the data, draws a batch, computes the loss,
validates, and exports a shippable weights file. Steps, schedule, checkpoints, logging and export timing belong to
the loop (``aecodec.training.loop``).

    hyperprior, hyperprior-msssim  transforms and entropy models: RD loss (MSE or MS-SSIM) on image crops
    hyperprior-ctx                 the checkerboard context model on frozen latents of the shipped hyperprior
    hyperprior-ctx-pf              the decoder's enhancement filter on frozen decoded crops of hyperprior-ctx
    vqvae                          codebooks and index priors on the frozen shipped hyperprior
    signal                         the array codec's dense autoencoder on synthetic signals

Start: the codec's shipped weights (default), ``--init FILE`` (a weights file or a ``.pt`` checkpoint of a run), or
``--fresh`` (hyperprior: random; hyperprior-ctx: a context model that codes like the hyperprior;
hyperprior-ctx-pf: a filter that starts as the identity; vqvae:
entropy-constrained k-means of the training latents; signal: random).
"""
from __future__ import annotations

import json
import math
import time
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch
from compressai.entropy_models import EntropyBottleneck
from torch import Tensor, nn

from ..codecs import checkerboard, hyperprior, postfilter, signal, vq
from ..codecs.weights import file_hash, read_tensors, weights_metadata
from ..errors import AecError, ModelMismatchError, UnknownCodecError
from ..models.context import CheckerboardContext, ContextConfig, checkerboard_bits
from ..models.hyperprior import Hyperprior, HyperpriorConfig
from ..models.postfilter import PostFilter, PostFilterConfig
from ..models.signal import CODE, HIDDEN, WINDOW, SignalAE
from ..registry import get_codec
from .data import load_pack, random_crops, resolve_images, sample_batch, signals, split
from .losses import psnr_from_mse, rd_loss
from .options import TrainOptions
from .vqvae import LEVELS, MIN_PER_10MP, VQConfig, VQVAE, ecvq_init, usage_report

# the shipped hyperprior-msssim's lambdas (CompressAI's MS-SSIM range, extended to 10 levels)
MSSSIM_LAMBDAS = (0.63, 1.23, 2.40, 4.58, 8.73, 16.64, 31.73, 60.50, 115.37, 220.0)
PER_LEVEL = ("log_gain", "log_inv_gain", "log_hyper_gain", "log_inv_hyper_gain")


def parse_lambdas(text: str) -> tuple[float, ...]:
    """``--lambdas`` ("0.01,0.05") as floats; empty when not given (the codec's or the initial weights' then)."""
    return tuple(float(v) for v in text.split(",")) if text else ()


def image_crops(o: TrainOptions) -> tuple[Tensor, Tensor]:
    """(training, validation) crops, uint8 [N, S, S, 3]: a pack's as stored, else random crops of side
    max(patch, crop) cut once from the split of a dataset or folder (a folder too small to have validation
    images of its own validates on its first image)."""
    if o.data.endswith(".npz"):
        train, val = load_pack(Path(o.data))
    else:
        tr, va = split(resolve_images(o.data))
        size = max(o.patch, o.crop)
        train, val = random_crops(tr, size, o.crops_per_image, o.seed), random_crops(va or tr[:1], size, 2, 100)
    if min(train.shape[1:3]) < o.patch:
        raise AecError(f"--patch {o.patch} is larger than the {train.shape[1]}px crops of {o.data}")
    return train, val


def read_state(path: Path, family: str) -> tuple[dict, dict[str, Tensor]]:
    """(config, float parameters) of a weights file of ``family`` or of a run's ``.pt`` checkpoint."""
    if path.suffix == ".pt":
        ck = torch.load(path, map_location="cpu", weights_only=False)
        return ck["config"], ck["model"]
    meta = weights_metadata(path)
    if meta["family"] != family:
        raise ModelMismatchError(f"{path.name} holds {meta['family']} weights, not {family} weights")
    tensors = {k: v.float() for k, v in read_tensors(path).items() if not k.startswith(("fixed.", "table."))}
    return json.loads(meta.get("config", "{}")), tensors


def relevel(state: dict[str, Tensor], old: tuple[float, ...], new: tuple[float, ...]) -> dict[str, Tensor]:
    """A hyperprior's per-level parameters, trained for lambdas ``old``, for lambdas ``new``. With as many levels,
    level i stays level i (fine-tuning for another metric relabels the rates). Otherwise every old lambda must be
    among the new ones and keeps its gains; each new level's log-gains are interpolated (or extrapolated) per
    channel, linearly in log lambda, through the two trained levels nearest to it."""
    if len(old) == len(new):
        return state
    if not set(old) <= set(new):
        raise AecError(f"--lambdas {','.join(map(str, new))} must keep the {len(old)} lambdas of the initial "
                       f"weights ({','.join(map(str, old))}) to add levels to them (or train a new model: --fresh)")
    log_old = torch.tensor(old, dtype=torch.float64).log()
    out = dict(state)
    for name in PER_LEVEL:
        rows = state[name].double()
        new_rows = []
        for lam in new:
            if lam in old:
                new_rows.append(rows[old.index(lam)])
                continue
            a, b = sorted((log_old - math.log(lam)).abs().argsort()[:2].tolist())
            t = (math.log(lam) - log_old[a]) / (log_old[b] - log_old[a])
            new_rows.append(rows[a] + t * (rows[b] - rows[a]))
        out[name] = torch.stack(new_rows).to(state[name].dtype)
    return out


@torch.no_grad()
def analyse(model: Hyperprior, crops: Tensor, device: torch.device) -> Tensor:
    """Latents of uint8 crops [N, S, S, 3] under a frozen model, fp16 on the CPU [N, M, S/16, S/16]."""
    ys = [model.analysis(crops[i:i + 16].permute(0, 3, 1, 2).float().div(255).to(device)).half().cpu()
          for i in range(0, len(crops), 16)]
    return torch.cat(ys)


def cached(path: Path, key: dict, compute) -> dict:
    """The dict saved at ``path`` when it was made for ``key``, else ``compute()``'s, saved there with the key
    (through a temporary file): data a run derives once from frozen weights, recomputed when its inputs change."""
    if path.exists():
        found = torch.load(path, weights_only=False)
        if found["key"] == key:
            return found
    t0 = time.time()
    found = {"key": key, **compute()}
    print(f"{path.name}: computed in {time.time() - t0:.0f} s", flush=True)
    torch.save(found, path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)
    return found


def frozen_latents(o: TrainOptions, out: Path, device: torch.device,
                   crops: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
    """(training, validation) latents of the image crops under the frozen shipped hyperprior, computed once
    per run and cached in ``out/latents.pt`` (recomputed when the data options or the base weights change)."""
    base = get_codec("hyperprior")
    key = {"data": o.data, "crop": max(o.patch, o.crop), "crops_per_image": o.crops_per_image, "seed": o.seed,
           "base_sha256": file_hash(base.weights_path).hex()}

    def compute() -> dict:
        train, val = crops or image_crops(o)
        model = base.load(o.device).model
        return {"train": analyse(model, train, device), "val": analyse(model, val, device)}

    latents = cached(out / "latents.pt", key, compute)
    return latents["train"], latents["val"]


class Task(ABC):
    """The per-codec part of a run; see the module docstring. ``columns`` name the training metrics ``loss``
    returns, ``val_columns`` the validation metrics beside ``val_loss``."""

    columns: tuple[str, ...] = ()
    val_columns: tuple[str, ...] = ()
    parallel = False  # whether it may run data-parallel under torchrun
    family = ""  # the weights family an --init file must have
    shape_options: tuple[str, ...] = ()  # options that shape a fresh model (a warm start keeps its weights' shape)

    def __init__(self, o: TrainOptions, device: torch.device):
        self.o, self.device = o, device
        defaults = {f.name: f.default for f in fields(o)}
        given = [name for name in self.shape_options if getattr(o, name) != defaults[name]]
        if given and not o.fresh:
            raise AecError(f"--{given[0].replace('_', '-')} shapes a new model: add --fresh (a warm start keeps the "
                           "shape of the weights it starts from)")

    @property
    def init_path(self) -> Path:
        """The weights a warm start reads: --init, else the codec's shipped file."""
        return Path(self.o.init) if self.o.init else get_codec(self.o.codec).weights_path

    def init_description(self) -> str:
        if self.o.fresh:
            return "fresh"
        return f"{self.init_path} (sha256 {file_hash(self.init_path).hex()})"

    def config(self, model: nn.Module) -> dict:
        """What ``build`` needs to rebuild the model of a checkpoint."""
        return model.config.to_dict()

    @abstractmethod
    def prepare(self, out: Path) -> None:
        """Load (or compute, and cache in ``out``) the training and validation data."""

    @abstractmethod
    def data_description(self) -> str:
        """The data, in words, for the provenance file."""

    @abstractmethod
    def build(self, config: dict | None) -> nn.Module:
        """The model: from a checkpoint's ``config`` (its weights follow), else fresh or warm-started."""

    @abstractmethod
    def batch(self, model: nn.Module, gen: torch.Generator) -> tuple[Tensor, ...]:
        """A training batch on the device, drawn with ``gen`` (whose state checkpoints keep)."""

    @abstractmethod
    def loss(self, net: nn.Module, model: nn.Module, batch: tuple[Tensor, ...],
             amp: AbstractContextManager) -> tuple[Tensor, dict[str, Tensor]]:
        """(scalar loss, training metrics named by ``columns``); ``net`` is ``model`` or its DDP/compiled
        wrapper, ``amp`` the autocast context for the transforms."""

    @abstractmethod
    def validate(self, model: nn.Module) -> dict[str, float]:
        """``val_loss`` (lower is better: it picks the best checkpoint) and the ``val_columns``."""

    @abstractmethod
    def export(self, model: nn.Module, path: Path, provenance: dict) -> Path:
        """Write the trained model as the codec's weights file, with its provenance JSON beside it."""


class HyperpriorTask(Task):
    """The variable-rate hyperprior (``hyperprior``; ``hyperprior-msssim`` defaults to the MS-SSIM metric and
    lambdas). Each sample of a batch draws its own quality level, so one network learns every rate."""

    columns = ("bpp", "psnr")
    val_columns = ("val_bpp", "val_psnr")
    parallel = True
    family = "hyperprior"
    shape_options = ("N", "M", "aux_transform")

    def __init__(self, o: TrainOptions, device: torch.device):
        super().__init__(o, device)
        o.data = o.data or "train"
        o.metric = o.metric or ("ms-ssim" if o.codec == "hyperprior-msssim" else "mse")

    def prepare(self, out: Path) -> None:
        train, self.val = image_crops(self.o)
        self.train = train.to(self.device)

    def data_description(self) -> str:
        o = self.o
        if o.data.endswith(".npz"):
            return f"pack {o.data}: {len(self.train)} training and {len(self.val)} validation crops"
        return (f"{o.data}: {len(self.train)} random {self.train.shape[1]}px crops of its training split "
                f"({o.crops_per_image} per image, seed {o.seed}); validation: {len(self.val)} crops of its "
                "validation split (2 per image, seed 100)")

    def build(self, config: dict | None) -> nn.Module:
        o = self.o
        if config:
            model = Hyperprior(HyperpriorConfig.from_dict(config))
        elif o.fresh:
            default = MSSSIM_LAMBDAS if o.codec == "hyperprior-msssim" else HyperpriorConfig().lambdas
            lambdas = parse_lambdas(o.lambdas) or default
            model = Hyperprior(HyperpriorConfig(N=o.N, M=o.M, lambdas=lambdas, aux_transform=o.aux_transform))
        else:
            d, state = read_state(self.init_path, self.family)
            init = HyperpriorConfig.from_dict(d)
            lambdas = parse_lambdas(o.lambdas) or init.lambdas
            model = Hyperprior(HyperpriorConfig(init.N, init.M, lambdas, init.aux_transform))
            missing, _ = model.load_state_dict(relevel(state, init.lambdas, lambdas), strict=False)
            if {k for k, _ in model.named_parameters()}.intersection(missing):  # buffers are constants
                raise ModelMismatchError(f"{self.init_path} lacks parameters: {missing}")
        model.grad_checkpointing = o.grad_checkpointing
        return model

    def batch(self, model: nn.Module, gen: torch.Generator) -> tuple[Tensor, ...]:
        x = sample_batch(self.train, self.o.batch, self.o.patch, gen).to(self.device, non_blocking=True)
        return x, torch.randint(model.num_levels, (self.o.batch,), generator=gen).to(self.device)

    def loss(self, net: nn.Module, model: nn.Module, batch: tuple[Tensor, ...],
             amp: AbstractContextManager) -> tuple[Tensor, dict[str, Tensor]]:
        x, level = batch
        with amp:
            out = net(x, level)
        r = rd_loss(x, out, torch.tensor(model.config.lambdas, device=self.device)[level], self.o.metric)
        return r.loss, {"bpp": r.bpp.mean(), "psnr": psnr_from_mse(r.mse.mean())}

    @torch.no_grad()
    def validate(self, model: nn.Module) -> dict[str, float]:
        """Mean RD loss over all levels on the fixed validation crops, with real rounding (eval mode)."""
        model.eval()
        x = self.val.permute(0, 3, 1, 2).float().div(255).to(self.device)
        lam = torch.tensor(model.config.lambdas, device=self.device)
        loss = bpp = psnr = 0.0
        for lvl in range(model.num_levels):
            for i in range(0, len(x), 16):
                xb = x[i:i + 16]
                level = torch.full((len(xb),), lvl, device=self.device, dtype=torch.long)
                r = rd_loss(xb, model(xb, level), lam[level], self.o.metric)
                loss += r.loss.item() * len(xb)
                bpp += r.bpp.sum().item()
                psnr += psnr_from_mse(r.mse).sum().item()
        model.train()
        n = len(x) * model.num_levels
        return {"val_loss": loss / n, "val_bpp": bpp / n, "val_psnr": psnr / n}

    def export(self, model: nn.Module, path: Path, provenance: dict) -> Path:
        provenance["metric"] = self.o.metric
        return hyperprior.export(model.state_dict(), model.config, path, provenance, codec=self.o.codec)


class ContextTask(Task):
    """The checkerboard context model (``aecodec.models.context``) for the frozen shipped hyperprior. The base
    never changes, so its analysis runs once per crop (``frozen_latents``) and a step touches only latent
    tensors. Loss: bits of the non-anchors (the latents the context model predicts) with uniform noise for
    rounding, levels at random, on random windows of ``patch``/16 latents; validation: the real rounded bits of
    every latent and of the hyper-latent, all levels, against the hyperprior alone."""

    columns = ("hyper_bpp",)
    val_columns = ("val_hyper_bpp", "val_saving")
    family = "context"
    shape_options = ("width", "hidden")

    def __init__(self, o: TrainOptions, device: torch.device):
        super().__init__(o, device)
        o.data = o.data or "train"
        if o.patch % 64:
            raise AecError(f"--patch {o.patch}: hyperprior-ctx trains on windows of whole hyper-latents "
                           "(a multiple of 64 pixels)")
        self.base = get_codec("hyperprior").load(o.device).model.float().eval().requires_grad_(False)

    def prepare(self, out: Path) -> None:
        train, self.val = frozen_latents(self.o, out, self.device)
        self.train = train.to(self.device)

    def data_description(self) -> str:
        o = self.o
        return (f"{o.data}: latents of {len(self.train)} {16 * self.train.shape[-1]}px crops (the frozen shipped "
                f"hyperprior's analysis; {o.crops_per_image} per image, seed {o.seed}), {o.patch}px windows; "
                f"validation: {len(self.val)} crops")

    def build(self, config: dict | None) -> nn.Module:
        if config:
            return CheckerboardContext(ContextConfig.from_dict(config))
        if self.o.fresh:
            return CheckerboardContext(ContextConfig(M=self.base.config.M, levels=self.base.num_levels,
                                                     width=self.o.width, hidden=self.o.hidden))
        d, state = read_state(self.init_path, self.family)
        model = CheckerboardContext(ContextConfig.from_dict(d))
        model.load_state_dict(state)
        return model

    def batch(self, model: nn.Module, gen: torch.Generator) -> tuple[Tensor, ...]:
        """Random windows of ``patch``/16 latents, on the hyper-latent grid (4 latents) as the codec cuts them."""
        b, p = self.o.batch, self.o.patch // 16
        n, _, h, w = self.train.shape
        idx = torch.randint(n, (b,), generator=gen)
        level = torch.randint(self.base.num_levels, (b,), generator=gen)
        tops = 4 * torch.randint((h - p) // 4 + 1, (b,), generator=gen)
        lefts = 4 * torch.randint((w - p) // 4 + 1, (b,), generator=gen)
        windows = zip(idx.tolist(), tops.tolist(), lefts.tolist())
        y = torch.stack([self.train[i, :, t:t + p, s:s + p] for i, t, s in windows])
        return y.float(), level.to(self.device)

    def loss(self, net: nn.Module, model: nn.Module, batch: tuple[Tensor, ...],
             amp: AbstractContextManager) -> tuple[Tensor, dict[str, Tensor]]:
        y, level = batch
        c, h, _, _ = checkerboard_bits(net, self.base, y, level, noise="noise")
        pixels = 256 * y.shape[-2] * y.shape[-1]
        return c.mean() / pixels, {"hyper_bpp": h.mean() / pixels}

    @torch.no_grad()
    def validate(self, model: nn.Module) -> dict[str, float]:
        """Real (rounded) bits per pixel over all levels: with the context model, and the hyperprior alone."""
        model.eval()
        with_ctx = hyper_only = 0.0
        for lvl in range(self.base.num_levels):
            for i in range(0, len(self.val), 32):
                y = self.val[i:i + 32].float().to(self.device)
                level = torch.full((len(y),), lvl, dtype=torch.long, device=self.device)
                c, h, anchors, z = checkerboard_bits(model, self.base, y, level)
                with_ctx += (c + anchors + z).sum().item()
                hyper_only += (h + anchors + z).sum().item()
        model.train()
        pixels = 256 * self.val[0, 0].numel() * len(self.val) * self.base.num_levels
        return {"val_loss": with_ctx / pixels, "val_hyper_bpp": hyper_only / pixels,
                "val_saving": 1 - with_ctx / hyper_only}

    def export(self, model: nn.Module, path: Path, provenance: dict) -> Path:
        base_hash = file_hash(get_codec("hyperprior").weights_path).hex()
        provenance["base_sha256"] = base_hash
        return checkerboard.export(model, base_hash, path, provenance)


class VQTask(HyperpriorTask):
    """The vqvae codec's codebooks and index priors (``aecodec.training.vqvae``) on the frozen shipped
    hyperprior, RD loss through its synthesis. The latents of the training crops (computed once, cached) seed a
    fresh run's books and, at export, prune every code the data would rarely use."""

    parallel = False
    family = "vqvae"
    shape_options = ()

    def __init__(self, o: TrainOptions, device: torch.device):
        if o.device != "cpu":
            raise AecError("vqvae trains on the CPU (its classes come from the integer hyper-synthesis)")
        super().__init__(o, device)
        self.hp = get_codec("hyperprior").load()

    def prepare(self, out: Path) -> None:
        super().prepare(out)
        self.latents, _ = frozen_latents(self.o, out, self.device, (self.train, self.val))

    def build(self, config: dict | None) -> nn.Module:
        if config:
            c = VQConfig.from_dict(config)
            return VQVAE(self.hp, c.levels, c.sizes)
        if self.o.fresh:
            return ecvq_init(self.hp, self.latents, torch.Generator().manual_seed(self.o.seed), LEVELS)
        if self.init_path.suffix == ".pt":
            d, state = read_state(self.init_path, self.family)
            model = self.build(d)
            model.load_state_dict(state)
            return model
        return VQVAE.from_codec(get_codec("vqvae").load("cpu", self.init_path))

    def init_description(self) -> str:
        if self.o.fresh:
            return (f"entropy-constrained VQ of the mean-removed latent pairs of the {len(self.latents)} training "
                    "crops per quality and scale class (aecodec.training.vqvae.ecvq_init)")
        return super().init_description()

    def export(self, model: nn.Module, path: Path, provenance: dict) -> Path:
        """Prune the codes the training latents would rarely use, priors from the final counts, then write."""
        pixels = len(self.latents) * 256 * self.latents[0, 0].numel()
        min_count = math.ceil(MIN_PER_10MP * pixels / 1e7)
        sizes = sum(model.config.sizes.values())
        books, freqs, counts = model.finalize([y[None].float() for y in self.latents], min_count)
        base_hash = file_hash(get_codec("hyperprior").weights_path).hex()
        provenance.update(base_sha256=base_hash, levels=[lv + 1 for lv in model.levels], finalize={
            "min_per_10mp": MIN_PER_10MP, "min_count": min_count, "codes_before": sizes,
            "codes_after": sum(model.config.sizes.values())}, per_quality=usage_report(model, counts))
        provenance["config"] = model.config.to_dict()
        return vq.export(path, base_hash, model.levels, books, freqs, provenance)


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
    (``aecodec.training.data.signals``): loss lambda * MSE + latent bits per sample, lambda from ``--lambdas``."""

    columns = ("mse", "bits")
    val_columns = ("val_mse", "val_bits")
    family = "signal"

    def __init__(self, o: TrainOptions, device: torch.device):
        super().__init__(o, device)
        if o.data not in ("", "synthetic"):
            raise AecError(f"the signal codec trains on synthetic signals (--data synthetic), not {o.data!r}")
        o.data, o.lambdas = "synthetic", o.lambdas or "300"
        lambdas = parse_lambdas(o.lambdas)
        if len(lambdas) != 1:
            raise AecError(f"the signal codec has one rate: one lambda, not --lambdas {o.lambdas}")
        self.lmbda = lambdas[0]

    def config(self, model: nn.Module) -> dict:
        return {"window": WINDOW, "hidden": HIDDEN, "code": CODE}

    def prepare(self, out: Path) -> None:
        self.train = signal_windows(4000, seed=100).to(self.device)
        self.val = signal_windows(250, seed=200).to(self.device)

    def data_description(self) -> str:
        return ("aecodec.training.data.signals(4000, length=512, seed=100), 64-sample windows normalized per series; "
                "validation: signals(250, length=512, seed=200)")

    def build(self, config: dict | None) -> nn.Module:
        model = SignalRD()
        if config or self.o.fresh:
            return model
        _, state = read_state(self.init_path, self.family)
        (model if self.init_path.suffix == ".pt" else model.ae).load_state_dict(state)
        return model

    def batch(self, model: nn.Module, gen: torch.Generator) -> tuple[Tensor, ...]:
        return (self.train[torch.randint(len(self.train), (self.o.batch,), generator=gen).to(self.device)],)

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
        return signal.export(model.ae, path, provenance)


class PostFilterTask(Task):
    """The decoder-side enhancement filter of ``hyperprior-ctx-pf`` (``aecodec.models.postfilter``) after the
    frozen ``hyperprior-ctx``. Its input never changes, so every training crop is decoded once, exactly as the
    codec decodes it (integer hyper path and context model), at one random level, and cached with the
    validation crops decoded at every level (``OUT/decoded.pt``); a step then runs only the filter, on random
    ``patch``-pixel windows of the decoded crops (a pixel filter has no latent borders to learn, unlike a
    synthesis). Loss: minus the batch's mean PSNR, so every level counts alike, as in a BD-rate. Validation:
    mean PSNR of the clamped 8-bit pixels over the validation crops and every level, and its gain over the
    codec without the filter."""

    columns = ("psnr", "gain")
    val_columns = ("val_psnr", "val_gain")
    family = "postfilter"
    shape_options = ("filter_channels", "filter_layers")

    def __init__(self, o: TrainOptions, device: torch.device):
        super().__init__(o, device)
        o.data = o.data or "train"
        if o.patch % 2 or o.patch > o.crop:
            raise AecError(f"--patch {o.patch}: {o.codec} trains on even windows of the --crop {o.crop} crops")
        self.base_name = get_codec(o.codec).base
        self.codec = get_codec(self.base_name).load(o.device)

    @torch.no_grad()
    def _decode(self, y: Tensor, level: int) -> Tensor:
        """One latent [1, M, h, w] -> the synthesis output the codec computes for it at ``level`` (0-based),
        before clamping, fp16 on the CPU."""
        c, q16 = self.codec, 16 * (level + 1)
        y = y.float().to(self.device)
        side = c.side_of(c.hyper_latent(y, q16), q16)
        symbols, mu_g = c.quantize(y.cpu().to(torch.float64) * c.latent_gain(q16), side, q16)
        return c.synthesis(c.dequantize(symbols, mu_g), q16).half().cpu()

    def prepare(self, out: Path) -> None:
        crops = image_crops(self.o)
        train_y, val_y = frozen_latents(self.o, out, self.device, crops)
        self.train_x, self.val_x = crops
        key = {"data": self.o.data, "crop": self.o.crop, "crops_per_image": self.o.crops_per_image,
               "seed": self.o.seed, "base_sha256": file_hash(get_codec(self.base_name).weights_path).hex()}

        def compute() -> dict:
            levels = torch.randint(self.codec.levels, (len(train_y),), generator=torch.Generator().manual_seed(1))
            train = torch.cat([self._decode(train_y[i:i + 1], lv) for i, lv in enumerate(levels.tolist())])
            val = torch.stack([torch.cat([self._decode(val_y[i:i + 1], lv) for i in range(len(val_y))])
                               for lv in range(self.codec.levels)])
            return {"levels": levels, "train": train, "val": val}

        decoded = cached(out / "decoded.pt", key, compute)
        self.levels, self.train, self.val = decoded["levels"], decoded["train"], decoded["val"]

    def data_description(self) -> str:
        o = self.o
        return (f"{o.data}: {len(self.train)} random {self.train_x.shape[1]}px crops of its training split "
                f"({o.crops_per_image} per image, seed {o.seed}), each decoded once by the frozen {self.base_name} "
                f"at one random level; {o.patch}px windows; validation: {len(self.val_x)} crops at every level")

    def build(self, config: dict | None) -> nn.Module:
        if config:
            return PostFilter(PostFilterConfig.from_dict(config))
        o = self.o
        if o.fresh:
            return PostFilter(PostFilterConfig(self.codec.levels, o.filter_channels, o.filter_layers, o.filter_blocks))
        d, state = read_state(self.init_path, self.family)
        model = PostFilter(PostFilterConfig.from_dict(d))
        model.load_state_dict(state)
        if o.filter_blocks and o.filter_blocks != model.config.blocks:
            try:
                model = model.grow(o.filter_blocks)  # a warm start with more depth: new blocks start as identities
            except ValueError as e:
                raise AecError(f"--filter-blocks {o.filter_blocks}: {e}") from e
        return model

    def batch(self, model: nn.Module, gen: torch.Generator) -> tuple[Tensor, ...]:
        b, p = self.o.batch, self.o.patch
        n, _, h, w = self.train.shape
        idx = torch.randint(n, (b,), generator=gen)
        tops = 2 * torch.randint((h - p) // 2 + 1, (b,), generator=gen)
        lefts = 2 * torch.randint((w - p) // 2 + 1, (b,), generator=gen)
        windows = list(zip(idx.tolist(), tops.tolist(), lefts.tolist()))
        decoded = torch.stack([self.train[i, :, t:t + p, s:s + p] for i, t, s in windows]).float()
        x = torch.stack([self.train_x[i, t:t + p, s:s + p] for i, t, s in windows]).permute(0, 3, 1, 2)
        level = self.levels[idx].float()
        return decoded.to(self.device), x.float().div(255).to(self.device), level.to(self.device)

    @staticmethod
    def _psnr(x_hat: Tensor, x: Tensor) -> Tensor:
        return -10 * torch.log10((x_hat - x).pow(2).flatten(1).mean(1).clamp(min=1e-10))

    def loss(self, net: nn.Module, model: nn.Module, batch: tuple[Tensor, ...],
             amp: AbstractContextManager) -> tuple[Tensor, dict[str, Tensor]]:
        decoded, x, level = batch
        with amp:
            psnr = self._psnr(net(decoded, level).clamp(0, 1), x).mean()  # the decoder clamps
        return -psnr, {"psnr": psnr.detach(), "gain": psnr.detach() - self._psnr(decoded.clamp(0, 1), x).mean()}

    @torch.no_grad()
    def validate(self, model: nn.Module) -> dict[str, float]:
        """Mean PSNR of the 8-bit pixels the decoder would write, every validation crop at every level."""
        model.eval()
        pixels = lambda t: t.clamp(0, 1).mul(255).round().div(255)  # noqa: E731
        x = self.val_x.permute(0, 3, 1, 2).float().div(255).to(self.device)
        filtered = base = 0.0
        for lv, decoded in enumerate(self.val):
            for i in range(0, len(x), 16):
                d = decoded[i:i + 16].float().to(self.device)
                level = torch.full((len(d),), float(lv), device=self.device)
                filtered += self._psnr(pixels(model(d, level)), x[i:i + 16]).sum().item()
                base += self._psnr(pixels(d), x[i:i + 16]).sum().item()
        model.train()
        n = len(x) * len(self.val)
        return {"val_loss": -filtered / n, "val_psnr": filtered / n, "val_gain": (filtered - base) / n}

    def export(self, model: nn.Module, path: Path, provenance: dict) -> Path:
        base_hash = file_hash(get_codec(self.base_name).weights_path).hex()
        provenance["base_sha256"] = base_hash
        return postfilter.export(model, base_hash, path, provenance)


TASKS: dict[str, type[Task]] = {"hyperprior": HyperpriorTask, "hyperprior-msssim": HyperpriorTask,
                                 "hyperprior-ctx": ContextTask, "hyperprior-ctx-pf": PostFilterTask,
                                 "hyperprior-ctx-pf2": PostFilterTask, "hyperprior-ctx-pf3": PostFilterTask,
                                 "vqvae": VQTask, "signal": SignalTask}


def make_task(o: TrainOptions, device: torch.device) -> Task:
    """The task of ``o.codec``; it fills the options left to the codec (data, metric, lambdas)."""
    info = get_codec(o.codec)  # UnknownCodecError for a name the registry lacks
    if info.name not in TASKS:
        raise UnknownCodecError(f"no training task for codec {info.name!r} (trainable: {', '.join(TASKS)})")
    if o.fresh and o.init:
        raise AecError("--fresh and --init exclude each other")
    return TASKS[info.name](o, device)
