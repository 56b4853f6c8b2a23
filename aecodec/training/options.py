"""The options of a training run. ``TrainOptions`` holds the loop's, the same for every codec; each task declares
its own (``TaskOptions`` subclasses, beside the task in ``aecodec.training.tasks``). Every field is a command-line
flag (``aecodec.training.flags`` builds them), declared once with ``option``: its default and help live in the
field. Checkpoints keep both dataclasses, and the provenance of an exported weights file records the fields that
differ from their defaults as a command line."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def option(default: Any, help: str, shape: bool = False) -> Any:
    """A dataclass field that is also a flag. ``shape``: the option shapes a fresh model, so a warm start (which
    keeps the shape of its weights) refuses it."""
    return field(default=default, metadata={"help": help, "shape": shape})


@dataclass
class TrainOptions:
    codec: str = option("hyperprior", "the registered codec to train")
    data: str = option("", "dataset name or folder, or an .npz pack; '' = the codec's (train; signal: synthetic)")
    out: str = option("", "run folder; '' = runs/<codec>")
    init: str = option("", "warm start from this weights file or run checkpoint (.pt); '' = the codec's shipped "
                           "weights")
    fresh: bool = option(False, "start from scratch (vqvae: entropy-constrained k-means of the training latents)")
    steps: int = option(100_000, "total steps of the schedule")
    stop_at: int = option(0, ">0: end the run at this step (the schedule still spans --steps)")
    auto_steps_seconds: float = option(0.0, ">0: measure the speed, then set --steps to fill this many seconds")
    time_limit: float = option(0.0, ">0: stop (and checkpoint) after this many seconds of this process")
    batch: int = option(8, "samples per step")
    patch: int = option(256, "training crop side in pixels (hyperprior-ctx: windows of patch/16 latents)")
    crop: int = option(256, "side of the crops cut once from each image (at least --patch); packs keep theirs")
    crops_per_image: int = option(1, "random crops per training image (folder data; more = more variety)")
    lr: float = option(1e-4, "peak learning rate")
    min_lr_ratio: float = option(0.02, "the cosine decay ends at this fraction of --lr")
    warmup: int = option(500, "steps of linear learning-rate warm-up")
    clip: float = option(1.0, "gradient norm clipping")
    aux_lr: float = option(1e-3, "learning rate of the entropy bottleneck's quantiles (hyperprior, signal)")
    seed: int = option(0, "seed of the crops, the batches and a fresh model")
    device: str = option("cpu", "cpu or cuda")
    amp: bool = option(False, "bf16 autocast for the transforms (entropy models stay fp32); CUDA only")
    compile: bool = option(False, "torch.compile the model (CPU: 0.87x the seconds per step, docs/training.md)")
    ema: float = option(0.0, ">0: also validate an EMA of the weights (e.g. 0.999); best.pt then holds the EMA "
                             "weights")
    patience: int = option(0, ">0: stop after this many validations without improvement (early stopping)")
    val_every: int = option(1000, "steps between validations")
    ckpt_every: int = option(1000, "steps between checkpoints (OUT/last.pt)")
    threads: int = option(0, "PyTorch CPU threads; 0 = its default")


@dataclass
class TaskOptions:
    """Base of the tasks' own options; a task with none uses it as it is."""
