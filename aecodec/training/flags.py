"""The command line of a training run, built in one place from the options dataclasses: ``aecodec train`` and
``python -m aecodec.training.loop`` (which ``scripts/gpu_train.sh`` and torchrun start) are the same click
command, so an option declared once, in ``TrainOptions`` or in a task's options, is a flag of both. The flags are
one flat set (a task's flag keeps its name whatever the codec); ``from_flags`` sorts them into the loop's options
and the codec's task's, and ``command_line`` writes them back as the command that reproduces a run."""
from __future__ import annotations

import shlex
from dataclasses import Field, fields, replace
from typing import Any, Callable, Mapping, Sequence

import click

from ..errors import AecError
from .options import TaskOptions, TrainOptions
from .tasks import TASKS, task_class

# the tasks' flags follow this one of the loop's, as in the commands the shipped provenance files record
TASK_FLAGS_AFTER = "device"
KINDS = {"int": int, "float": float, "str": str, "bool": bool}
LOOP = {f.name for f in fields(TrainOptions)}


def flag(name: str) -> str:
    """The flag of a field: ``--crops-per-image`` for ``crops_per_image`` (``--N`` keeps its case)."""
    return f"--{name.replace('_', '-')}"


def flag_fields() -> list[tuple[Field, str]]:
    """(field, help) per flag, in command-line order: the loop's up to ``TASK_FLAGS_AFTER``, the tasks' (a field
    that several tasks declare once, at its first, with their helps joined), then the loop's others."""
    loop = [(f, f.metadata["help"]) for f in fields(TrainOptions)]
    cut = [f.name for f, _ in loop].index(TASK_FLAGS_AFTER) + 1
    found: dict[str, Field] = {}
    helps: dict[str, list[str]] = {}
    for task in TASKS.values():
        for f in fields(task.Options):
            first = found.setdefault(f.name, f)
            if (first.type, first.default) != (f.type, f.default):
                raise TypeError(f"{flag(f.name)} is declared with another type or default by {task.__name__}")
            if f.metadata["help"] not in helps.setdefault(f.name, []):
                helps[f.name].append(f.metadata["help"])
    tasks = [(f, "; ".join(helps[f.name])) for f in found.values()]
    return [*loop[:cut], *tasks, *loop[cut:]]


def params() -> list[click.Option]:
    """The click options of every flag, with the fields' defaults and helps."""
    out = []
    for f, help in flag_fields():
        kind = KINDS[str(f.type)]
        if kind is bool:
            out.append(click.Option([flag(f.name), f.name], is_flag=True, default=f.default, help=help))
        else:  # the explicit name keeps case: --N and --M stay N and M
            out.append(click.Option([flag(f.name), f.name], type=kind, default=f.default, show_default=True,
                                    help=help))
    return out


def from_flags(values: Mapping[str, Any]) -> tuple[TrainOptions, TaskOptions]:
    """The loop's options and the codec's task's from flag values by field name (a missing one keeps its
    default). A flag of another task's that is set is refused: this codec's task would ignore it."""
    names = {f.name: f for f, _ in flag_fields()}
    if set(values) - set(names):
        raise TypeError(f"no training options {sorted(set(values) - set(names))}")
    o = TrainOptions(**{k: v for k, v in values.items() if k in LOOP})
    cls = task_class(o.codec)
    own = [f.name for f in fields(cls.Options)]
    foreign = [k for k, v in values.items() if k not in LOOP and k not in own and v != names[k].default]
    if foreign:
        takes = ", ".join(map(flag, own)) or "no options of its own"
        raise AecError(f"{flag(foreign[0])} is not an option of --codec {o.codec} (its {cls.family} task takes "
                       f"{takes})")
    return o, cls.Options(**{k: v for k, v in values.items() if k in own})


def command_line(o: TrainOptions, options: TaskOptions, step: int) -> str:
    """The ``aecodec train`` command line that reproduces a run that ended at ``step``: its options that differ
    from the defaults, its schedule as ``--steps`` and, when it ended early, ``--stop-at`` (time limits and the
    speed probe are not repeated)."""
    o = replace(o, time_limit=0.0, auto_steps_seconds=0.0, stop_at=step if step < o.steps else 0)
    args = ["aecodec", "train", "--codec", o.codec, "--data", o.data, "--out", o.out]
    for f, _ in flag_fields():
        value = getattr(o if f.name in LOOP else options, f.name, f.default)
        if f.name in ("codec", "data", "out") or value == f.default:
            continue
        args += [flag(f.name)] + ([] if isinstance(value, bool) else [str(value)])
    return shlex.join(args)


def train_command(run: Callable[[dict[str, Any]], None], help: str, name: str = "train") -> click.Command:
    """The click command of a training run; ``run`` gets the flag values (``from_flags`` sorts them)."""
    return click.Command(name, params=params(), callback=lambda **values: run(values), help=help)


def parse(argv: Sequence[str]) -> tuple[TrainOptions, TaskOptions]:
    """The options of the flags of a ``train`` command line (what follows ``aecodec train``)."""
    return from_flags(train_command(lambda values: None, "").make_context("train", list(argv)).params)
