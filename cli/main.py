"""The ``aecodec`` command line: parses, calls the library, maps errors to one line and an exit code
(``aecodec.errors.EXIT_CODES``). Heavy modules (PyTorch, the codecs) load only inside the commands that code.

The group and ``train`` live here; the commands in ``coding`` (encode, decode), ``info`` (info, list) and
``tools`` (denoise, import, bench) and ``datasets``."""
from __future__ import annotations

import os
import sys

import click

import aecodec
from aecodec.errors import EXIT_CODES

from .coding import decode, encode
from .common import VERBOSITY, one_line_errors, run_body
from .datasets import datasets
from .info import info, list_
from .tools import bench, denoise, import_

EPILOG = "Exit codes: " + "; ".join(f"{code} {what}" for code, what in EXIT_CODES.items())


class Aecodec(click.Group):
    """The command group, whose usage errors are one line like every other error."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        one_line_errors(lambda: super(Aecodec, self).main(args, prog_name, complete_var, False, **extra))


@click.group(cls=Aecodec, epilog=EPILOG)
@click.version_option(aecodec.__version__, prog_name="aecodec")
@click.option("--quiet", is_flag=True, help="No warnings, notices or progress bars (errors still print).")
@click.option("-v", "--verbose", is_flag=True, help="Print what each command did (sizes, rates, seconds).")
def main(quiet: bool, verbose: bool) -> None:
    """aecodec: learned image compression (.aec files). Use - for stdin/stdout.

    Shell completion: eval "$(_AECODEC_COMPLETE=bash_source aecodec)" (zsh_source, fish_source)."""
    VERBOSITY["level"] = 0 if quiet else 2 if verbose else 1
    if quiet:
        os.environ["TQDM_DISABLE"] = "1"


for command in (encode, decode, info, list_, denoise, import_, bench, datasets):
    main.add_command(command)


def _train_command() -> click.Command:
    """The real ``train`` command: the flags ``aecodec.training.flags`` builds (imports the training code)."""
    from aecodec.training.flags import from_flags, train_command
    from aecodec.training.loop import train

    def run(values: dict) -> None:
        def body():
            best = train(*from_flags(values))
            click.echo(f"weights: {best}")
        run_body(body)

    return train_command(run, help=TRAIN_HELP)


TRAIN_HELP = ("Train a registered codec (--codec NAME) with the one rate-distortion loop; leaves a weights file "
              "and its provenance in --out (resumes from OUT/last.pt when present).")


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
              help=TRAIN_HELP)
@click.pass_context
def train(ctx: click.Context) -> None:
    # the flags are built from the training options only when training is asked for: `aecodec --help` stays fast
    one_line_errors(lambda: _train_command().main(ctx.args, prog_name="aecodec train", standalone_mode=False))


def run() -> None:
    """The ``aecodec`` program: the command line, then an exit that skips the interpreter's teardown. Every
    output is complete and closed by then (written atomically, worker processes joined); what is skipped is
    PyTorch's own teardown, about half a second of every short command."""
    try:
        main()
        code = 0
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
        code = e.code if isinstance(e.code, int) else int(e.code is not None)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can reach it
            code = code or 1
    os._exit(code)


if __name__ == "__main__":
    run()
