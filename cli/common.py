"""What every command shares: one line and an exit code per error (``aecodec.errors.EXIT_CODES``), the
verbosity the group options set, stdout for pipes, and the messages of folder runs."""
from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import click
from click.shell_completion import CompletionItem

from aecodec.atomic import write_atomic
from aecodec.errors import AecError, AecWarning, OutputError
from aecodec.files import check_folder, check_output

if TYPE_CHECKING:
    from aecodec.folders import FileResult, FolderReport

# a path argument: its checks (exists, readable, writable) are the library's, which give README's exit codes
class PathOrURL(click.ParamType):
    """A local path (a ``Path``), or a URL (``protocol://...``, kept as a string: a ``Path`` would fold its
    ``//``). Readability is the library's to report, with its exit code."""

    name = "path"

    def convert(self, value, param, ctx):
        if isinstance(value, Path) or (isinstance(value, str) and "://" in value):
            return value
        return Path(value)


PATH = click.Path(path_type=Path, readable=False)
INPUT = PathOrURL()  # inputs may be URLs; outputs are local paths


def default_output(input: Path | str, suffix: str) -> Path:
    """The output beside a local input, or in the current folder under a URL's file name."""
    if isinstance(input, str):
        return Path(Path(input.split("?")[0].rstrip("/")).name or "output").with_suffix(suffix)
    return input.with_suffix(suffix)
VERBOSITY = {"level": 1}  # 0 quiet, 1 normal, 2 verbose; set by the group options


def run_body(fn: Callable[[], None]) -> None:
    """Run a command body: AecError -> one line on stderr and its exit code, never a traceback."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fn()
        for w in caught:
            if issubclass(w.category, AecWarning) and VERBOSITY["level"] > 0:
                click.echo(f"aecodec: warning: {w.message}", err=True)
    except AecError as e:
        click.echo(f"aecodec: error: {e}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("aecodec: interrupted", err=True)
        sys.exit(130)


def complete_codec(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Shell completion of ``--codec``: the registered codecs, with their descriptions."""
    from aecodec.registry import list_codecs

    return [CompletionItem(c.name, help=c.description) for c in list_codecs() if c.name.startswith(incomplete)]


def complete_bench_codecs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Shell completion of the benchmark's comma lists: the last name, learned or classical."""
    from aecodec.eval.baselines import BASELINES
    from aecodec.registry import list_codecs

    done, _, last = incomplete.rpartition(",")
    prefix = done + "," if done else ""
    names = [c.name for c in list_codecs("image")] + list(BASELINES)
    return [CompletionItem(prefix + n) for n in names if n.startswith(last)]


def one_line_errors(call: Callable[[], object]) -> None:
    """Run a click command's ``main`` with ``standalone_mode=False`` and give its refusals as every other
    error is given: one line on stderr (with where to find help) and click's exit code (2 for usage errors)."""
    try:
        code = call()
    except click.UsageError as e:
        hint = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
        click.echo(f"aecodec: error: {e.format_message()}{hint}", err=True)
        sys.exit(e.exit_code)
    except click.ClickException as e:
        click.echo(f"aecodec: error: {e.format_message()}", err=True)
        sys.exit(e.exit_code)
    except click.Abort:
        click.echo("aecodec: interrupted", err=True)
        sys.exit(130)
    if isinstance(code, int):  # --help, --version and the like end with an exit code
        sys.exit(code)


def say(msg: str) -> None:
    """A line of what was done, with -v only."""
    if VERBOSITY["level"] >= 2:
        click.echo(f"aecodec: {msg}", err=True)


def to_stdout(output: Path | None) -> bool:
    return output is None or str(output) == "-"


def check_piped_output(output: Path | None, force: bool,
                       check: Callable[[Path, bool], None] = check_output) -> None:
    """Pipes check a file output (with ``check``) before any work, like every other command; binary data never
    goes to a terminal."""
    if not to_stdout(output):
        check(output, force)
    elif click.get_binary_stream("stdout").isatty():
        raise OutputError("will not write binary data to a terminal: redirect stdout or give -o FILE")


def emit(data: bytes, output: Path | None) -> None:
    """Write to stdout (output '-' or none with stdin input), else atomically to the (checked) file."""
    if to_stdout(output):
        stream = click.get_binary_stream("stdout")
        stream.write(data)
        stream.flush()
    else:
        write_atomic(output, data)


def folder_run(kind: str, code: Callable[..., FolderReport], **kwargs) -> None:
    """Run ``aecodec.encode_folder``/``decode_folder`` with a progress bar and each file's warnings as it is
    done; then one summary line and the failed files, exit 1 if any failed (7 for clashing outputs)."""
    if kwargs.get("dst") is not None and not isinstance(kwargs["dst"], str):
        check_folder(kwargs["dst"])  # the command line wants a local output folder that exists (mkdir -p it)
    report_folder(kind, code(progress=True, on_file=_warn, **kwargs))


def report_folder(kind: str, report: FolderReport) -> None:
    """A folder run's outcome: one summary line and the failed files; exit 1 if any failed (7 for clashes)."""
    if report.clashes:
        raise OutputError(report.clash_message)
    if VERBOSITY["level"] > 0:
        click.echo(f"{kind}d {len(report.done)} file(s), skipped {len(report.skipped)} existing, "
                   f"{len(report.failed)} failed", err=True)
    for src, err in report.failed.items():
        click.echo(f"  {src}: {err}", err=True)
    for folder in report.unreadable:
        click.echo(f"  {folder}: cannot read this folder: its files were not {kind}d", err=True)
    if report.failed or report.unreadable:
        raise AecError(f"{len(report.failed)} file(s) failed, {len(report.unreadable)} folder(s) unreadable")


def _warn(result: FileResult) -> None:
    from tqdm import tqdm

    for message in result.warnings if VERBOSITY["level"] > 0 else ():
        tqdm.write(f"aecodec: warning: {result.src}: {message}", file=sys.stderr)
