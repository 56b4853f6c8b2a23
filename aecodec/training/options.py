"""The options of a training run (``aecodec train``, ``python -m aecodec.training.loop``): one flat dataclass of
int, float, str and bool fields, from which both command lines build their flags; checkpoints keep them, and the
provenance of an exported weights file records the ones that differ from these defaults as a command line."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainOptions:
    codec: str = "hyperprior"  # hyperprior, hyperprior-msssim, hyperprior-ctx, hyperprior-ctx-pf, vqvae, signal
    data: str = ""  # dataset name/folder or .npz pack; "" = train (signal: synthetic)
    out: str = ""  # run folder; "" = runs/<codec>
    init: str = ""  # warm start from this weights file or run checkpoint (.pt); "" = the codec's shipped weights
    fresh: bool = False  # start from scratch (vqvae: entropy-constrained k-means of the training latents)
    steps: int = 100_000  # total steps of the schedule
    stop_at: int = 0  # >0: end the run at this step (the schedule still spans --steps)
    auto_steps_seconds: float = 0.0  # >0: measure speed, set ``steps`` to fill this many seconds
    time_limit: float = 0.0  # >0: stop (and checkpoint) after this many seconds of this process
    batch: int = 8
    patch: int = 256  # training crop side in pixels (hyperprior-ctx: windows of patch/16 latents)
    crop: int = 256  # side of the crops cut once from each image (at least --patch); packs keep theirs
    crops_per_image: int = 1  # random crops per training image (folder data; more = more variety)
    lr: float = 1e-4
    min_lr_ratio: float = 0.02
    warmup: int = 500
    clip: float = 1.0
    aux_lr: float = 1e-3  # the entropy bottleneck's quantiles (hyperprior, signal)
    seed: int = 0
    device: str = "cpu"
    N: int = 128  # fresh hyperprior: channels of the transforms
    M: int = 256  # fresh hyperprior: latent channels
    lambdas: str = ""  # comma-separated lambdas of the quality levels; "" = the codec's (signal: one, 300)
    metric: str = ""  # distortion: mse or ms-ssim; "" = the codec's (hyperprior-msssim: ms-ssim)
    aux_transform: bool = False  # a fresh hyperprior gets linear wavelet shortcuts (aecodec.models.auxt)
    width: int = 192  # fresh hyperprior-ctx: context features
    hidden: int = 384  # fresh hyperprior-ctx: entropy-parameter network width
    filter_channels: int = 48  # fresh hyperprior-ctx-pf: features of the filter
    filter_layers: int = 4  # fresh hyperprior-ctx-pf: 3x3 convolutions of the filter
    filter_blocks: int = 0  # hyperprior-ctx-pf: residual blocks; more than a warm start's adds identity blocks
    amp: bool = False  # bf16 autocast for the hyperprior transforms (entropy models stay fp32); CUDA only
    grad_checkpointing: bool = False  # recompute transform activations in backward: less memory
    compile: bool = False  # torch.compile the model (CPU: 0.87x the seconds per step, bench/train_speed.py)
    ema: float = 0.0  # >0: also validate an EMA of the weights (e.g. 0.999); best.pt then holds the EMA weights
    patience: int = 0  # >0: stop after this many validations without improvement (early stopping)
    val_every: int = 1000
    ckpt_every: int = 1000
    threads: int = 0
