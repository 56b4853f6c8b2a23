"""One flag builder for both entry points: the shipped weights' reproducing commands parse and are written back
as the loop writes them, each flag reaches the options that declare it, and a flag of another codec's task is
refused instead of ignored."""
import json
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest

import aecodec
from aecodec.cli.main import _train_command
from aecodec.training.flags import command_line, flag_fields, from_flags, parse, train_command
from aecodec.training.options import TrainOptions
from aecodec.training.tasks.hyperprior import HyperpriorOptions
from aecodec.training.tasks.postfilter import PostFilterOptions

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("info", [c for c in aecodec.list_codecs() if c.weights], ids=lambda info: info.name)
def test_shipped_weights_record_the_train_commands_that_reproduce_them(info):
    prov = json.loads(info.weights_path.with_suffix(".json").read_text())
    commands = prov.get("training", prov)["command"].split(" && ")
    for line in commands:
        args = shlex.split(line)
        assert args[:2] == ["aecodec", "train"]
        o, options = parse(args[2:])
        assert o.codec == info.name and command_line(o, options, o.stop_at or o.steps) == line  # as the loop writes it
    assert not parse(shlex.split(commands[0])[2:])[0].init.startswith("runs/")


def test_flags_reach_the_options_that_declare_them():
    o, options = parse(["--codec", "hyperprior-ctx-pf3", "--filter-blocks", "5", "--crops-per-image", "2"])
    assert o == TrainOptions(codec="hyperprior-ctx-pf3", crops_per_image=2)
    assert options == PostFilterOptions(filter_blocks=5)
    o, options = parse(["--N", "8", "--grad-checkpointing", "--amp"])  # --N keeps its case
    assert o.codec == "hyperprior" and o.amp and options == HyperpriorOptions(N=8, grad_checkpointing=True)
    with pytest.raises(aecodec.AecError, match="--filter-blocks is not an option of --codec hyperprior"):
        parse(["--codec", "hyperprior", "--filter-blocks", "5"])
    with pytest.raises(TypeError):  # a misspelt option in code is no flag at all
        from_flags({"filter_block": 5})


def test_a_flag_two_tasks_declare_is_one_flag_with_both_helps():
    names = [f.name for f, _ in flag_fields()]
    assert len(names) == len(set(names))
    (lambdas,) = [help for f, help in flag_fields() if f.name == "lambdas"]
    assert "hyperprior:" in lambdas and "signal:" in lambdas
    assert parse(["--codec", "signal", "--lambdas", "100"])[1].lambdas == "100"


def test_both_entry_points_build_the_same_flags():
    cli = _train_command()
    loop = train_command(lambda values: None, "")
    opts = lambda command: [(p.opts, p.default) for p in command.params if isinstance(p, click.Option)]  # noqa: E731
    assert opts(cli) == opts(loop) and len(opts(cli)) == len(flag_fields())
    r = subprocess.run([sys.executable, "-m", "aecodec.training.loop", "--codec", "hyperprior", "--N", "8",
                        "--filter-layers", "3"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.strip().endswith("(its hyperprior task takes --N, --M, --lambdas, "
                                                            "--metric, --grad-checkpointing)"), r.stderr
