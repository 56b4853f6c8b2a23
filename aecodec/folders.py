"""Folder runs: every image (or .aec file) under a folder coded into another folder, relative paths kept.

A run is refused before anything is written when two inputs would be written to one output (a.png and a.jpg ->
a.aec); it resumes, skipping inputs whose output exists (unless ``force``); a file that fails is reported and the
others are still written. Outputs are written atomically, and worker processes (``jobs``) never outlive the run
nor leave a partial file (``aecodec.workers``), so an interrupted run leaves only complete outputs to resume from.
"""
from __future__ import annotations

import warnings
from contextlib import closing
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

from . import workers
from .atomic import write_atomic
from .datasets import IMAGE_SUFFIXES, folder_files
from .errors import AecError, AecWarning, InputImageError, reason
from .files import (
    MAX_PIXELS,
    EncodeOptions,
    check_folder,
    check_image,
    decode_data,
    decode_file,
    encode_file,
    encode_image,
    image_bytes,
    is_url,
    read_input,
    resolve_device,
)
from .variants import encode_settings

__all__ = ["FileResult", "FolderReport", "decode_folder", "encode_folder"]


@dataclass
class FileResult:
    """One file of a folder run: its input and output, why it failed (None: written) and its warnings."""

    src: Path
    out: Path
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class FolderReport:
    """What a folder run did, by input file: ``done`` (written), ``skipped`` (its output existed, without
    ``force``), ``failed`` (with the reason). ``clashes`` maps an output to the inputs that would all be written
    there: with any clash, the run was refused and nothing was written. ``unreadable``: the subfolders it could
    not look into. Runs over URLs name their files by URL (strings)."""

    src: Path | str
    dst: Path | str
    done: list[Path | str] = field(default_factory=list)
    skipped: list[Path | str] = field(default_factory=list)
    failed: dict[Path | str, str] = field(default_factory=dict)
    clashes: dict[Path | str, list[Path | str]] = field(default_factory=dict)
    unreadable: list[Path | str] = field(default_factory=list)

    @property
    def clash_message(self) -> str:
        """The first clash, and how many there are, in one line ('' when there is none)."""
        if not self.clashes:
            return ""
        out, inputs = next(iter(self.clashes.items()))
        names = " and ".join(_relative(p, self.src) for p in inputs)
        return (f"{names} would both be written to {_relative(out, self.dst)} ({len(self.clashes)} such "
                "clash(es)): rename or move one of each")


def _relative(path: Path | str, root: Path | str) -> str:
    if isinstance(path, Path) and isinstance(root, Path):
        return str(path.relative_to(root))
    return str(path).removeprefix(str(root).rstrip("/") + "/")


FileCallback = Callable[[FileResult], None]
_Task = tuple[Path, Path, Callable[[Path, Path], object]]  # (input, output, what codes one into the other)


def encode_folder(src: str | Path, dst: str | Path | None = None, *, codec: str | None = None,
                  quality: float | None = None, bpp: float | None = None, max_bytes: int | None = None,
                  psnr: float | None = None, effort: int = 0, weights: str | Path | None = None, device: str = "cpu",
                  max_pixels: int = MAX_PIXELS, force: bool = False, jobs: int = 0, batch: int = 1,
                  progress: bool = False, on_file: FileCallback | None = None) -> FolderReport:
    """Encode every image under ``src`` to ``dst`` (default: ``src``) as .aec files, relative paths kept. Either
    may be a URL of any fsspec protocol (``s3://bucket/photos``, ``memory://in``): such runs code in this process
    (``jobs`` and ``batch`` apply to local folders) and write each output as one object.

    Settings as for ``aecodec.encode`` or a rate target (``aecodec.ratecontrol``); bad ones are refused
    once, before any file. ``jobs``: worker processes (0: code in this process). ``batch`` > 1 codes that many
    images per pass in this process (use 8 or more on a GPU); rate targets are per image and keep to one at a
    time. ``progress`` shows a progress bar on a terminal; ``on_file`` is called here as each file is done."""
    encode_settings(codec, quality, effort, weights)
    device = resolve_device(device)
    options = EncodeOptions(codec, quality, bpp, max_bytes, psnr, effort, weights, device, max_pixels)
    if is_url(src) or is_url(dst):
        def convert(data: bytes, name: str, out: str) -> bytes:
            check_image(data, max_pixels, name)
            return encode_image(data, options)

        return _run_urls(str(src), str(dst if dst is not None else src), IMAGE_SUFFIXES, ".aec", convert, force)
    src = Path(src)

    def many(srcs: list[Path], outs: list[Path]) -> list[bytes]:
        from .api import encode_many

        for s in srcs:  # a file the checks refuse sends its batch file by file, which reports it
            check_image(s, max_pixels)
        return encode_many(srcs, codec=codec, quality=quality, device=device, effort=effort, batch_size=batch,
                           weights=weights)

    code = partial(encode_file, options=options, force=True)
    return _run("encode", src, dst, IMAGE_SUFFIXES, ".aec", code, jobs,
                batch if not options.targets else 1, many, force, progress, on_file)


def decode_folder(src: str | Path, dst: str | Path | None = None, *, device: str = "cpu",
                  weights: str | Path | None = None, force: bool = False, jobs: int = 0, batch: int = 1,
                  progress: bool = False, on_file: FileCallback | None = None) -> FolderReport:
    """Decode every .aec file under ``src`` to a PNG image under ``dst`` (default: ``src``), relative paths kept;
    ``weights``, ``jobs``, ``batch``, ``progress`` and ``on_file`` as for ``encode_folder``."""
    device = resolve_device(device)
    if is_url(src) or is_url(dst):
        def convert(data: bytes, name: str, out: str) -> bytes:
            d = decode_data(data, Path(out), device, weights)
            return d if isinstance(d, bytes) else image_bytes(d, Path(out))

        return _run_urls(str(src), str(dst if dst is not None else src), {".aec"}, ".png", convert, force)
    src = Path(src)

    def many(srcs: list[Path], outs: list[Path]) -> list[bytes]:
        from .api import decode_many

        images = decode_many([read_input(s) for s in srcs], device=device, batch_size=batch, weights=weights)
        return [image_bytes(im, out) for im, out in zip(images, outs)]

    code = partial(decode_file, device=device, weights=weights, force=True)
    return _run("decode", src, dst, {".aec"}, ".png", code, jobs, batch, many, force, progress, on_file)


def _run(kind: str, src: Path, dst: str | Path | None, inputs: set[str], suffix: str,
         code: Callable[[Path, Path], object], jobs: int, batch: int,
         many: Callable[[list[Path], list[Path]], list[bytes]], force: bool, progress: bool,
         on_file: FileCallback | None) -> FolderReport:
    """The run both directions share: plan every output (clashes refuse the run, existing outputs are
    skipped), then code the rest (the files with an ``inputs`` suffix), one file at a time, in batches, or in
    worker processes."""
    from tqdm import tqdm

    if not src.is_dir():
        raise InputImageError(f"{src} is not a folder")
    dst = Path(dst) if dst is not None else src
    check_folder(dst, create=True)  # made, with its parents, when the nearest existing folder is writable
    sources, unreadable = folder_files(src, inputs)
    report = FolderReport(src, dst, unreadable=unreadable)
    outputs: dict[Path, list[Path]] = {}
    for s in sources:
        outputs.setdefault(dst / s.relative_to(src).with_suffix(suffix), []).append(s)
    report.clashes = {out: ins for out, ins in outputs.items() if len(ins) > 1}
    if report.clashes:  # one result would silently replace another
        return report
    tasks: list[_Task] = []
    made: set[Path] = set()
    for out, (s,) in outputs.items():
        if out.exists() and not force:
            report.skipped.append(s)
            continue
        if out.parent not in made:  # every output folder made and checked before anything is coded
            check_folder(out.parent, create=True)
            made.add(out.parent)
        tasks.append((s, out, code))
    if batch > 1:
        results = _batched(tasks, batch, many)
    else:
        results = workers.imap(_code, tasks, jobs) if jobs > 0 else (_code(t) for t in tasks)
    with closing(results):  # an interrupted run stops its workers here, not when the iterator is collected
        for r in tqdm(results, total=len(tasks), desc=kind, dynamic_ncols=True, disable=None if progress else True):
            if r.error is None:
                report.done.append(r.src)
            else:
                report.failed[r.src] = r.error
            if on_file is not None:
                on_file(r)
    return report


@dataclass
class UrlPlan:
    """A folder run over fsspec paths, planned before anything is coded: the report so far (clashes, skipped
    outputs) and the (input URL, output path) pairs still to code."""

    report: FolderReport
    tasks: list[tuple[str, str]]
    fs_out: object


def plan_urls(src: str, dst: str, inputs: set[str], suffix: str, force: bool) -> UrlPlan:
    """List ``src`` (a folder or URL prefix), map every input to its output under ``dst``, refuse clashes (no
    tasks then) and skip outputs that exist (unless ``force``)."""
    import fsspec

    try:
        fs_in, root_in = fsspec.core.url_to_fs(src)
        fs_out, root_out = fsspec.core.url_to_fs(dst)
        if not fs_in.isdir(root_in):
            raise InputImageError(f"{src} is not a folder")
        found = sorted(p for p in fs_in.find(root_in) if PurePosixPath(p).suffix.lower() in inputs)
    except AecError:
        raise
    except Exception as e:  # each store's own errors (no such bucket, no credentials, unreachable)
        raise InputImageError(f"cannot list {src}: {reason(e)}") from None
    report = FolderReport(fs_in.unstrip_protocol(root_in), fs_out.unstrip_protocol(root_out))
    outputs: dict[str, list[str]] = {}
    for p in found:
        rel = PurePosixPath(p).relative_to(PurePosixPath(root_in)).with_suffix(suffix)
        outputs.setdefault(f"{root_out.rstrip('/')}/{rel}", []).append(p)
    report.clashes = {fs_out.unstrip_protocol(o): [fs_in.unstrip_protocol(i) for i in ins]
                      for o, ins in outputs.items() if len(ins) > 1}
    tasks = []
    for out, ins in outputs.items() if not report.clashes else ():
        if not force and fs_out.exists(out):
            report.skipped.append(fs_in.unstrip_protocol(ins[0]))
        else:
            tasks.append((fs_in.unstrip_protocol(ins[0]), out))
    return UrlPlan(report, tasks, fs_out)


def write_to(fs, out: str, data: bytes) -> None:
    """One output of a URL run: atomically on a local disk, as one object (whole or nothing) in a store."""
    if "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        write_atomic(Path(out), data)
    else:
        fs.pipe_file(out, data)


def code_url(fs_out, name: str, out: str, convert: Callable[[bytes, str, str], bytes]) -> str | None:
    """One file of a URL run, wherever it runs: read, coded by ``convert`` (bytes, input name, output path) and
    written; None, or why it failed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AecWarning)
            write_to(fs_out, out, convert(read_input(name), name, out))
        return None
    except AecError as e:
        return str(e)
    except Exception as e:  # the store refused the write
        return f"cannot write {fs_out.unstrip_protocol(out)}: {reason(e)}"


def _run_urls(src: str, dst: str, inputs: set[str], suffix: str, convert: Callable[[bytes, str, str], bytes],
              force: bool) -> FolderReport:
    """A folder run where either folder is a URL (any fsspec protocol), coded in this process."""
    plan = plan_urls(src, dst, inputs, suffix, force)
    for name, out in plan.tasks:
        error = code_url(plan.fs_out, name, out, convert)
        if error is None:
            plan.report.done.append(name)
        else:
            plan.report.failed[name] = error
    return plan.report


def _code(task: _Task) -> FileResult:
    """One file of a folder run, wherever it runs: its refusal and warnings come back to be reported, not
    printed as Python prints them."""
    src, out, code = task
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code(src, out)
            error = None
        except AecError as e:
            error = str(e)
    return FileResult(src, out, error, [str(w.message) for w in caught if issubclass(w.category, AecWarning)])


def _batched(tasks: list[_Task], batch: int,
             many: Callable[[list[Path], list[Path]], list[bytes]]) -> Iterator[FileResult]:
    """Tasks ``batch`` at a time through ``many`` (``encode_many``/``decode_many``) in this process: the GPU
    path. A batch that fails is redone file by file, so one bad file is reported and the others are still
    written."""
    for i in range(0, len(tasks), batch):
        chunk = tasks[i:i + batch]
        try:
            datas = many([t[0] for t in chunk], [t[1] for t in chunk])
        except AecError:
            yield from map(_code, chunk)
            continue
        for (src, out, _), data in zip(chunk, datas):
            write_atomic(out, data)
            yield FileResult(src, out)
