"""What differs between the codecs one training loop trains: a *task* per codec family builds the model (from
scratch, warm-started from weights, or from a checkpoint's config), loads the data, draws a batch, computes the
loss, validates, and exports a shippable weights file. Steps, schedule, checkpoints, logging and export timing
belong to the loop (``aecodec.training.loop``). The registry's ``family`` of a codec selects its task:

    hyperprior   transforms and entropy models: RD loss (MSE or MS-SSIM) on image crops
    context      the checkerboard context model on frozen latents of the shipped hyperprior
    postfilter   the decoder's enhancement filter on frozen decoded crops of its base codec
    avif-pf      the restoration filter after AV1 intra, on crops AVIF-coded once
    vqvae        codebooks and index priors on the frozen shipped hyperprior
    signal       the array codec's dense autoencoder on synthetic signals

Start: the codec's shipped weights (default), ``--init FILE`` (a weights file or a ``.pt`` checkpoint of a run), or
``--fresh`` (hyperprior: random; context: a context model that codes like the hyperprior; postfilter: a filter
that starts as the identity; vqvae: entropy-constrained k-means of the training latents; signal: random).
"""
from __future__ import annotations

import torch

from ...errors import AecError, UnknownCodecError
from ..options import TaskOptions, TrainOptions
from .avif import AvifFilterTask
from .base import Task
from .codec_layer import get_codec
from .context import ContextTask
from .hyperprior import HyperpriorTask
from .postfilter import PostFilterTask
from .signal import SignalTask
from .vqvae import VQTask

__all__ = ["TASKS", "Task", "make_task", "task_class"]

TASKS: dict[str, type[Task]] = {t.family: t for t in (HyperpriorTask, ContextTask, PostFilterTask, AvifFilterTask,
                                                       VQTask, SignalTask)}


def task_class(codec: str) -> type[Task]:
    """The task that trains ``codec``: the one of its registry family."""
    info = get_codec(codec)  # UnknownCodecError for a name the registry lacks
    if info.family not in TASKS:
        raise UnknownCodecError(f"no training task for codec {info.name!r} of family {info.family!r} "
                                f"(trainable families: {', '.join(TASKS)})")
    return TASKS[info.family]


def make_task(o: TrainOptions, options: TaskOptions | None = None, device: torch.device | None = None) -> Task:
    """The task of ``o.codec`` with its options (``None``: its defaults), on ``device`` (``None``: ``o.device``);
    it fills the options left to the codec (data, metric, lambdas)."""
    cls = task_class(o.codec)
    if o.fresh and o.init:
        raise AecError("--fresh and --init exclude each other")
    return cls(o, cls.Options() if options is None else options, device or torch.device(o.device))

