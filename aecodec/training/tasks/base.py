"""The interface of a training task: the part of a run that differs between codec families."""
from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import fields, replace
from pathlib import Path
from typing import ClassVar

import torch
from torch import Tensor, nn

from ...errors import AecError
from ..options import TaskOptions, TrainOptions
from .codec_layer import get_codec, weights_sha256


class Task(ABC):
    """The per-family part of a run (see ``aecodec.training.tasks``). ``columns`` name the training metrics
    ``loss`` returns, ``val_columns`` the validation metrics beside ``val_loss``. A task gets the loop's options
    and its own (``Options``); ``o`` and ``options`` hold them with what was left to the codec filled in, as
    checkpoints and the reproducing command record them."""

    family: ClassVar[str] = ""  # the registry family whose codecs it trains, and that an --init file must have
    Options: ClassVar[type[TaskOptions]] = TaskOptions
    default_data: ClassVar[str] = "train"  # what --data "" means
    columns: ClassVar[tuple[str, ...]] = ()
    val_columns: ClassVar[tuple[str, ...]] = ()
    parallel: ClassVar[bool] = False  # whether it may run data-parallel under torchrun

    def __init__(self, o: TrainOptions, options: TaskOptions, device: torch.device):
        if not isinstance(options, self.Options):
            raise TypeError(f"--codec {o.codec} takes {self.Options.__name__}, not {type(options).__name__}")
        given = [f.name for f in fields(options) if f.metadata["shape"] and getattr(options, f.name) != f.default]
        if given and not o.fresh:
            raise AecError(f"--{given[0].replace('_', '-')} shapes a new model: add --fresh (a warm start keeps the "
                           "shape of the weights it starts from)")
        self.info = get_codec(o.codec)
        self.o = replace(o, data=o.data or self.default_data)
        self.options = self.resolve(options)
        self.device = device

    def resolve(self, options: TaskOptions) -> TaskOptions:
        """``options`` with the codec's choice for those left to it (none here)."""
        return options

    @property
    def init_path(self) -> Path:
        """The weights a warm start reads: --init, else the codec's shipped file."""
        return Path(self.o.init) if self.o.init else self.info.weights_path

    @property
    def weights_name(self) -> str:
        """The file name of the codec's weights, which the run exports."""
        return self.info.weights_path.name

    def init_description(self) -> str:
        """The start, in words, for the provenance file."""
        if self.o.fresh:
            return "fresh"
        return f"{self.init_path} (sha256 {weights_sha256(self.init_path)})"

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
