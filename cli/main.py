"""The ``aecodec`` command line: parses, calls the library, maps errors to one line and an exit code
(``aecodec.errors.EXIT_CODES``). Heavy modules (PyTorch, the codecs) load only inside the commands that code."""
from __future__ import annotations

import io
import json
import os
import signal
import sys
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterator

import click

import aecodec
import aecodec.codecs.weights_file
from aecodec import workers
from aecodec.errors import EXIT_CODES, AecError, AecWarning, InputImageError, OutputError
from aecodec.registry import COMPRESSAI_ARCHS

if TYPE_CHECKING:
    from PIL import Image

# Images above this are refused unless asked for (--max-pixels): 100 MP codes within the 2.5 GB memory bar in
# tiles (bench/results/memory_100mp.json: 1.9 GiB encode, 2.2 GiB decode); a small file can declare a huge image.
MAX_PIXELS = 120_000_000
EPILOG = "Exit codes: " + "; ".join(f"{code} {what}" for code, what in EXIT_CODES.items())


def _device(device: str) -> str:
    if device == "cpu":
        return device
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise AecError("--device cuda: no CUDA device is available")
    return device


def _check_output(path: Path, force: bool) -> None:
    if path.is_dir():
        raise OutputError(f"{path} is a folder: name an output file")
    if path.exists() and not force:
        raise OutputError(f"{path} exists (use --force to overwrite)")
    if not path.parent.is_dir():
        raise OutputError(f"output folder {path.parent} does not exist")


def write_atomic(path: Path, data: bytes | Callable[[BinaryIO], None]) -> None:
    """Write ``data`` (bytes, or a function that writes into the open file) via a temporary file in the same
    folder and rename: readers never see a partial file. The file gets the mode a plain ``open()`` would give it
    (0666 less the umask), not the temporary file's 0600."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    workers.partial.add(tmp)  # a worker ended mid-write removes it
    try:
        os.fchmod(fd, aecodec.codecs.weights_file.file_mode())
        with os.fdopen(fd, "wb") as f:
            if isinstance(data, bytes):
                f.write(data)
            else:
                data(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        workers.partial.discard(tmp)


def _run(fn):
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


VERBOSITY = {"level": 1}  # 0 quiet, 1 normal, 2 verbose; set by the group options


@click.group(epilog=EPILOG)
@click.version_option(aecodec.__version__, prog_name="aecodec")
@click.option("--quiet", is_flag=True, help="No warnings, notices or progress bars (errors still print).")
@click.option("-v", "--verbose", is_flag=True, help="Print what each command did (sizes, rates, seconds).")
def main(quiet: bool, verbose: bool) -> None:
    """aecodec: learned image compression (.aec files). Use - for stdin/stdout.

    Shell completion: eval "$(_AECODEC_COMPLETE=bash_source aecodec)" (zsh_source, fish_source)."""
    VERBOSITY["level"] = 0 if quiet else 2 if verbose else 1
    if quiet:
        os.environ["TQDM_DISABLE"] = "1"


def _say(msg: str) -> None:
    if VERBOSITY["level"] >= 2:
        click.echo(f"aecodec: {msg}", err=True)


@main.command()
@click.argument("input", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Output .aec file [INPUT with .aec suffix].")
@click.option("-q", "--quality", type=float, help="Quality level (fractional allowed) [codec default].")
@click.option("--codec", help="Codec name (see `aecodec list`) [the default codec].")
@click.option("--bpp", type=float, help="Rate control: highest quality whose file fits this many bits per pixel.")
@click.option("--size", "size", help="Rate control: highest quality whose file fits this size (e.g. 50KB, 1.5MB).")
@click.option("--psnr", type=float, help="Rate control: lowest quality whose decoded PSNR reaches this (dB).")
@click.option("--error-bound", type=float,
              help="Arrays (.npy input): the largest absolute error allowed per value (required for arrays).")
@click.option("--effort", type=click.IntRange(0, 3), default=0, show_default=True,
              help="Encoder effort: 1-3 refine the latents per image for smaller files (25, 100, 300 synthesis "
                   "passes). A 768x512 photo on 2 cores: effort 1 took 33-44 s against 2 s (kodim05: 1.4% fewer "
                   "bytes, -0.01 dB); 2 and 3 take about 4x and 12x that. Decoding is unaffected.")
@click.option("--weights", type=click.Path(path_type=Path),
              help="A compatible weights file (e.g. from `aecodec train`) instead of the shipped one.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@click.option("--jobs", type=int, default=1, show_default=True, help="Parallel processes for folders.")
@click.option("--batch", type=click.IntRange(1), default=1, show_default=True,
              help="Folders: images per transform pass, in one process (use 8+ with --device cuda).")
@click.option("--max-pixels", type=click.IntRange(0), default=MAX_PIXELS, show_default=True,
              help="Refuse larger images at once, from their header (decompression bombs); 0: no limit.")
def encode(input: Path, output: Path | None, quality: float | None, codec: str | None, bpp: float | None,
           size: str | None, psnr: float | None, error_bound: float | None, weights: Path | None, effort: int,
           device: str, force: bool, jobs: int, batch: int, max_pixels: int) -> None:
    """Compress an image to .aec, or every image in a folder (INPUT a folder, -o the output folder).
    A .npy input (1-D or 2-D float array) is coded by the array codec within --error-bound."""
    if input.suffix.lower() == ".npy":
        def array():
            if error_bound is None:
                raise click.UsageError("arrays need --error-bound (the largest absolute error allowed)")
            out = output or input.with_suffix(".aec")
            _check_output(out, force)
            write_atomic(out, aecodec.encode_array(input, error_bound, codec=codec, weights=weights))
        _run(array)
        return
    settings = {"quality": quality, "codec": codec, "bpp": bpp, "size": size, "psnr": psnr, "device": device,
                "effort": effort, "weights": weights, "max_pixels": max_pixels}
    if input.is_dir():
        def folder():
            _check_encode(settings, error_bound)
            _batch("encode", input, output, settings, force, jobs, batch)
        _run(folder)
        return

    def body():
        _check_encode(settings, error_bound)
        if str(input) == "-" or str(output) == "-":
            _check_piped_output(output, force)
            src = _stdin_image(max_pixels) if str(input) == "-" else input
            _emit(_encode_data(src, settings), output)
        else:
            _encode_one(input, output or input.with_suffix(".aec"), settings, force)
    _run(body)


def _check_encode(settings: dict, error_bound: float | None) -> None:
    """Everything an image encode can be refused for before PyTorch and a model load (seconds): the codec,
    quality, effort and weights, the rate targets, options that do not apply, the device (once for a folder)."""
    from aecodec.variants import encode_settings

    s = settings
    if sum(s[k] is not None for k in ("quality", "bpp", "size", "psnr")) > 1:
        raise click.UsageError("give at most one of -q, --bpp, --size, --psnr")
    if error_bound is not None:
        raise click.UsageError("--error-bound applies to arrays (.npy input), not to images")
    encode_settings(s["codec"], s["quality"], s["effort"], s["weights"])
    for name, value in (("--bpp", s["bpp"]), ("--size", _parse_size(s["size"]) if s["size"] else None),
                        ("--psnr", s["psnr"])):
        if value is not None and not value > 0:
            raise click.BadParameter(f"{name} must be positive, not {value}")
    _device(s["device"])


def _check_image(path: Path, max_pixels: int) -> None:
    """An input that is no image, or a larger one than ``max_pixels`` (0: any), is refused from its header,
    before anything loads."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the limit is ours, just below
            bound, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                im = Image.open(path)
            finally:
                Image.MAX_IMAGE_PIXELS = bound
        with im:
            _check_pixels(im, max_pixels, path)
    except FileNotFoundError:
        raise InputImageError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise InputImageError(f"{path} is a folder") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise InputImageError(f"cannot read image {path}: {e}") from None


def _check_pixels(im, max_pixels: int, name) -> None:
    if max_pixels and im.width * im.height > max_pixels:
        raise InputImageError(f"{name}: {im.width}x{im.height} is {im.width * im.height / 1e6:.3g} megapixels, above "
                              f"the limit of {max_pixels / 1e6:.3g} (--max-pixels N raises it, 0 removes it)")


def _stdin_image(max_pixels: int):
    from PIL import Image

    from aecodec.image import open_image

    im = Image.open(io.BytesIO(click.get_binary_stream("stdin").read()))
    _check_pixels(im, max_pixels, "stdin")
    return open_image(im)


def _to_stdout(output: Path | None) -> bool:
    return output is None or str(output) == "-"


def _check_piped_output(output: Path | None, force: bool) -> None:
    """Pipes check a file output before any work, like every other command; binary data never goes to a
    terminal."""
    if not _to_stdout(output):
        _check_output(output, force)
    elif click.get_binary_stream("stdout").isatty():
        raise OutputError("will not write binary data to a terminal: redirect stdout or give -o FILE")


def _emit(data: bytes, output: Path | None) -> None:
    """Write to stdout (output '-' or none with stdin input), else atomically to the (checked) file."""
    if _to_stdout(output):
        stream = click.get_binary_stream("stdout")
        stream.write(data)
        stream.flush()
    else:
        write_atomic(output, data)


def _parse_size(text: str) -> int:
    """'50KB' -> 50000, '1.5MB' -> 1500000, '1024' -> 1024 (decimal units, B optional; KiB/MiB binary)."""
    t = text.strip().upper().removesuffix("B")
    units = {"KI": 1024, "MI": 1024**2, "K": 1000, "M": 1000**2}
    for suffix, mult in units.items():
        if t.endswith(suffix):
            try:
                return int(float(t[: -len(suffix)]) * mult)
            except ValueError:
                break
    try:
        return int(float(t))
    except ValueError:
        raise click.BadParameter(f"cannot read size {text!r} (e.g. 50KB, 1.5MB)") from None


@main.command()
@click.argument("input", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Output image; the format follows the suffix [INPUT with .png suffix].")
@click.option("--weights", type=click.Path(path_type=Path),
              help="The weights file the .aec file was made with, when it was not the shipped one.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@click.option("--jobs", type=int, default=1, show_default=True, help="Parallel processes for folders.")
@click.option("--batch", type=click.IntRange(1), default=1, show_default=True,
              help="Folders: images per synthesis pass, in one process (use 8+ with --device cuda).")
def decode(input: Path, output: Path | None, weights: Path | None, device: str, force: bool, jobs: int,
           batch: int) -> None:
    """Decompress an .aec file to an image, or every .aec file in a folder (-o the output folder)."""
    settings = {"device": device, "weights": weights}
    if input.is_dir():
        _run(lambda: _batch("decode", input, output, settings, force, jobs, batch))
        return
    if str(input) == "-" or str(output) == "-":
        def piped():
            _check_piped_output(output, force)
            _emit(_decoded_bytes(input, output, settings), output)
        _run(piped)
        return
    _run(lambda: _decode_one(input, output or input.with_suffix(".npy" if _holds_array(input) else ".png"),
                             settings, force))


def _holds_array(path: Path) -> bool:
    """Whether an .aec file holds an array (decoded to .npy) rather than an image; unreadable files are left
    to the decoder to report."""
    try:
        return aecodec.inspect(path.read_bytes()).mode == "F"
    except (OSError, AecError):
        return False


def _decoded_bytes(input: Path, out: Path | None, s: dict) -> bytes:
    """Decode a file (or stdin, '-') and encode the image in the format of ``out``'s suffix (PNG for stdout)."""
    d = _decoded(input, out, s)
    return d if isinstance(d, bytes) else _image_bytes(d, out)


def _decoded(input: Path, out: Path | None, s: dict) -> bytes | Image.Image:
    """Decode a file (or stdin, '-'): the .npy bytes of an array, or the image (written by ``_save_image``)."""
    import time

    t = time.perf_counter()
    data = click.get_binary_stream("stdin").read() if str(input) == "-" else _read(input)
    if aecodec.inspect(data).mode == "F":
        from aecodec.arrays import to_npy

        if not _to_stdout(out) and out.suffix.lower() != ".npy":
            raise OutputError(f"this .aec file holds an array: write it to a .npy file, not {out.name}")
        return to_npy(aecodec.decode_array(data, weights=s["weights"]))
    if not _to_stdout(out):
        _image_format(out)  # an output format we cannot write is refused before the decode, not after
    im = aecodec.decode(data, device=_device(s["device"]), weights=s["weights"])
    _say(f"{input}: {im.width}x{im.height} {im.mode}, {time.perf_counter() - t:.2f} s")
    return im


# formats that store no alpha: an RGBA/LA image is flattened (with a warning), as image editors do on export
_NO_ALPHA = {"JPEG", "BMP", "PPM", "EPS", "PCX"}


def _image_bytes(im, out: Path | None) -> bytes:
    """A decoded image in the format of ``out``'s suffix (PNG for stdout)."""
    buf = io.BytesIO()
    _save_image(im, out, buf)
    return buf.getvalue()


def _save_image(im, out: Path | None, f) -> None:
    """Write a decoded image to the open file ``f`` in the format of ``out``'s suffix (PNG for stdout)."""
    fmt = "PNG" if _to_stdout(out) else _image_format(out)
    if fmt in _NO_ALPHA and im.mode in ("RGBA", "LA"):
        warnings.warn(f"{fmt} stores no alpha: the alpha channel was dropped", AecWarning, stacklevel=3)
        im = im.convert("RGB" if im.mode == "RGBA" else "L")
    try:
        im.save(f, fmt)
    except (KeyError, ValueError, OSError) as e:
        raise aecodec.AecError(f"cannot write this image as {fmt}: {e}") from None


def _decode_one(input: Path, out: Path, settings: dict, force: bool) -> None:
    _check_output(out, force)
    d = _decoded(input, out, settings)
    # an image is written straight into the temporary file: a 100 MP PNG is never held in memory as well
    write_atomic(out, d if isinstance(d, bytes) else lambda f: _save_image(d, out, f))


def _encode_data(src, s: dict) -> bytes:
    import time

    t = time.perf_counter()
    if s["bpp"] is not None or s["size"] is not None or s["psnr"] is not None:
        from aecodec.eval.ratecontrol import encode_to_target

        data = encode_to_target(src, bpp=s["bpp"], max_bytes=_parse_size(s["size"]) if s["size"] else None,
                                psnr=s["psnr"], codec=s["codec"], device=_device(s["device"]), effort=s["effort"],
                                weights=s["weights"], strict=True)
    else:
        data = aecodec.encode(src, codec=s["codec"], quality=s["quality"], device=_device(s["device"]),
                              effort=s["effort"], weights=s["weights"])
    fi = aecodec.inspect(data)
    _say(f"{src if isinstance(src, Path) else 'stdin'}: {fi.bytes} bytes, {fi.bpp:.4f} bpp, {fi.codec} quality "
         f"{fi.quality:g}, {time.perf_counter() - t:.2f} s")
    return data


def _refuse_aec(path: Path) -> None:
    """An .aec file given to encode would be decoded and re-encoded, losing quality twice: refuse it."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return  # unreadable inputs are reported by the image reader
    if head == b"\x89AEC":
        raise InputImageError(f"{path} is already an .aec file (decode it with `aecodec decode`)")


def _encode_one(input: Path, out: Path, settings: dict, force: bool) -> None:
    _refuse_aec(input)
    _check_image(input, settings.get("max_pixels", MAX_PIXELS))
    _check_output(out, force)
    write_atomic(out, _encode_data(input, settings))


def _batch_task(task: tuple) -> tuple[str, str | None, list[str]]:
    """One file of a folder run; returns (input, error message or None, its warnings). Runs in a worker
    process: its warnings come back to be printed like any other, not as Python prints them."""
    kind, src, out, settings = task
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if kind == "encode":
                _encode_one(Path(src), Path(out), settings, True)
            else:
                _decode_one(Path(src), Path(out), settings, True)
            err = None
        except AecError as e:
            err = str(e)
    return src, err, [str(w.message) for w in caught if issubclass(w.category, AecWarning)]


def _batched_tasks(tasks: list[tuple], batch: int) -> Iterator[tuple[str, str | None]]:
    """Folder tasks ``batch`` at a time through ``encode_many``/``decode_many`` in this process (the GPU path).
    A batch that fails is redone file by file, so one bad file is reported and the others are still written."""
    for i in range(0, len(tasks), batch):
        chunk = tasks[i:i + batch]
        kind, settings = chunk[0][0], chunk[0][3]
        device = _device(settings["device"])
        try:
            if kind == "encode":
                datas = aecodec.encode_many([Path(t[1]) for t in chunk], codec=settings["codec"],
                                            quality=settings["quality"], device=device,
                                            effort=settings["effort"], batch_size=batch,
                                            weights=settings["weights"])
            else:
                images = aecodec.decode_many([_read(Path(t[1])) for t in chunk], device=device, batch_size=batch,
                                             weights=settings["weights"])
                datas = [_image_bytes(im, Path(t[2])) for im, t in zip(images, chunk)]
        except AecError:
            yield from map(_batch_task, chunk)
            continue
        for t, data in zip(chunk, datas):
            write_atomic(Path(t[2]), data)
            yield t[1], None, []


def _batch(kind: str, folder: Path, out_dir: Path | None, settings: dict, force: bool, jobs: int,
           batch: int = 1) -> None:
    """Folder in, folder out, relative paths kept; existing outputs skipped unless --force; bad files listed
    at the end with a non-zero exit. ``batch`` > 1 codes in one process, many images per pass (rate control
    targets are per image and keep the process pool)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    from aecodec.training.data import IMAGE_SUFFIXES

    out_dir = out_dir or folder
    if not out_dir.is_dir():
        raise OutputError(f"output folder {out_dir} does not exist")
    if kind == "encode":
        sources = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        suffix = ".aec"
    else:
        sources = sorted(p for p in folder.rglob("*.aec") if p.is_file())
        suffix = ".png"
    outputs: dict[Path, list[Path]] = {}
    for src in sources:
        outputs.setdefault(out_dir / src.relative_to(folder).with_suffix(suffix), []).append(src)
    clashes = [srcs for srcs in outputs.values() if len(srcs) > 1]
    if clashes:  # refused before anything is written: one result would silently replace the other
        names = " and ".join(str(p.relative_to(folder)) for p in clashes[0])
        raise OutputError(f"{names} would both be written to {clashes[0][0].relative_to(folder).with_suffix(suffix)}"
                          f" ({len(clashes)} such clash(es)): rename or move one of each")
    tasks, skipped = [], 0
    for src in sources:
        out = out_dir / src.relative_to(folder).with_suffix(suffix)
        if out.exists() and not force:
            skipped += 1
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        tasks.append((kind, str(src), str(out), settings))
    failed = []
    targets = any(settings.get(k) is not None for k in ("bpp", "size", "psnr"))
    pool = None
    if batch > 1 and not targets:
        results = _batched_tasks(tasks, batch)
    else:
        from aecodec.workers import init_worker

        # Workers start with Ctrl-C ignored (an ignored signal stays ignored across exec): the terminal sends
        # it to every process of the run, and only this one acts on it.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            pool = ProcessPoolExecutor(max(1, jobs), mp_context=multiprocessing.get_context("spawn"),
                                       initializer=init_worker)
            results = pool.map(_batch_task, tasks)  # submits every task: every worker starts here
        finally:
            signal.signal(signal.SIGINT, previous)
    try:
        for src, err, said in tqdm(results, total=len(tasks), desc=kind, dynamic_ncols=True, disable=None):
            if err:
                failed.append((src, err))
            for message in said if VERBOSITY["level"] > 0 else ():
                tqdm.write(f"aecodec: warning: {src}: {message}", file=sys.stderr)
    except BaseException:
        if pool is not None:  # an interrupted run ends now: its workers stop mid-file, removing what they wrote
            for process in getattr(pool, "_processes", {}).values():  # no public way to stop running workers
                process.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
        raise
    if pool is not None:
        pool.shutdown()
    if VERBOSITY["level"] > 0:
        click.echo(f"{kind}d {len(tasks) - len(failed)} file(s), skipped {skipped} existing, {len(failed)} failed",
                   err=True)
    for src, err in failed:
        click.echo(f"  {src}: {err}", err=True)
    if failed:
        raise AecError(f"{len(failed)} file(s) failed")


def _image_format(path: Path) -> str:
    from PIL import Image

    ext = path.suffix.lower()
    Image.init()
    if ext not in Image.EXTENSION:
        raise OutputError(f"unknown image format for output {path} (use .png, .jpg, .webp, ...)")
    if Image.EXTENSION[ext] == "AEC":
        raise OutputError(f"{path}: decode writes images (.png, .jpg, .webp, ...); an .aec output would code "
                          "the decoded image a second time")
    return Image.EXTENSION[ext]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputImageError(f"no such file: {path}") from None
    except OSError as e:
        raise InputImageError(f"cannot read {path}: {e.strerror}") from None


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list for several files).")
@click.option("--weights", type=click.Path(path_type=Path), help="Check decodability with this weights file.")
def info(inputs: tuple[Path, ...], as_json: bool, weights: Path | None) -> None:
    """Show what .aec files hold (- reads stdin): codec, weights hash, quality, size, bpp, compression ratio."""
    def body():
        found = [(p, aecodec.inspect(click.get_binary_stream("stdin").read() if str(p) == "-" else _read(p),
                                     weights=weights)) for p in inputs]
        if as_json:
            dicts = [fi.to_dict() for _, fi in found]
            click.echo(json.dumps(dicts[0] if len(dicts) == 1 else dicts, indent=1))
            return
        for path, fi in found:
            click.echo(_describe("stdin" if str(path) == "-" else path, fi))
    _run(body)


def _describe(name, fi) -> str:
    """``aecodec info``'s lines for one file."""
    if fi.array:
        a = fi.array
        return (f"{name}: {fi.codec} (id {fi.codec_id}, weights {fi.weights_hash}) array\n"
                f"  shape {tuple(a['shape'])} {a['dtype']}, error bound {a['error_bound']:g}, {fi.bytes} bytes, "
                f"{fi.bpp:.4f} bits per value, ratio {fi.compression_ratio:.1f}:1")
    exact = ", exact pixels (lossless: no larger than the codec's coding)" if fi.exact else ""
    return (f"{name}: {fi.codec} (id {fi.codec_id}, weights {fi.weights_hash}) quality {fi.quality:g}{exact}\n"
            f"  {fi.width}x{fi.height} {fi.mode}, {fi.tiles} tile(s), {fi.bytes} bytes, "
            f"{fi.bpp:.4f} bpp, ratio {fi.compression_ratio:.1f}:1"
            + ("" if fi.decodable else "\n  not decodable with these weights: this aecodec lacks that codec or "
                                       "weights (decode with --weights FILE)")
            + (f"\n  model: CompressAI {fi.imported['arch']} N={fi.imported['N']} M={fi.imported['M']}, "
               f"imported from {fi.imported.get('source_name', '?')} (sha256 {fi.imported['source_sha256']})"
               if fi.imported else ""))


@main.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> None:
    """List registered codecs and their qualities (the first is the default)."""
    rows = []
    for c in aecodec.list_codecs():
        prov = c.weights_path.with_suffix(".json") if c.weights else None
        rd = json.loads(prov.read_text()).get("kodak", []) if prov and prov.exists() else []
        rows.append({"name": c.name, "id": c.codec_id, "kind": c.kind, "qualities": list(c.qualities),
                     "default_quality": c.default_quality, "description": c.description, "kodak": rd})
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    for r in rows:
        info = aecodec.get_codec(r["name"])
        if not info.weights:
            click.echo(f"{r['name']} (id {r['id']}): {r['description']}; no shipped weights: use --weights FILE")
            continue
        if r["kind"] == "array":
            click.echo(f"{r['name']} (id {r['id']}): {r['description']}; quality = --error-bound per file")
            continue
        click.echo(f"{r['name']} (id {r['id']}): {r['description']}; qualities {r['qualities'][0]}.."
                   f"{r['qualities'][-1]}, default {r['default_quality']}")
        for p in r["kodak"]:
            click.echo(f"  q{p['quality']:<4g} Kodak {p['bpp']:.3f} bpp  {p['psnr']:.2f} dB")


@main.command()
@click.argument("input", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Output image; the format follows the suffix [INPUT with .denoised.png suffix].")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
def denoise(input: Path, output: Path | None, force: bool) -> None:
    """Remove noise from an image with the trained denoising autoencoder (aecodec.ae.denoise)."""
    def body():
        from aecodec.ae.denoise import denoise as run

        out = output or input.with_suffix(".denoised.png")
        _check_output(out, force)
        write_atomic(out, _image_bytes(run(input), out))
    _run(body)


@main.group(name="import")
def import_() -> None:
    """Turn models of other libraries into aecodec weights files (then: encode/decode/bench --weights FILE)."""


@import_.command(name="compressai")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--arch", required=True, type=click.Choice(sorted(COMPRESSAI_ARCHS)),
              help="The CompressAI zoo architecture the checkpoint was trained as (N and M are read from it).")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Weights file to write.")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
def import_compressai(checkpoint: Path, arch: str, output: Path, force: bool) -> None:
    """A CompressAI state_dict (torch.save(net.state_dict()), or an example-script checkpoint) -> a weights file
    whose files decode exactly on every machine: integer hyper-synthesis, stored CDF tables, the .aec container.
    Its provenance JSON (source SHA-256, arch, N, M) is written beside it."""
    def body():
        from aecodec.codecs.imported import import_compressai as run

        _check_output(output, force)
        run(checkpoint, arch, output, COMPRESSAI_ARCHS[arch])
        meta = aecodec.codecs.weights_file.weights_metadata(output)
        click.echo(f"wrote {output}: {arch} N={meta['N']} M={meta['M']} (codec {meta['codec']}), from "
                   f"{checkpoint.name} sha256 {meta['source_sha256'][:16]}...; use it with --weights {output}")
    _run(body)


@main.command()
@click.option("--dataset", default="kodak", show_default=True, help="Name in datasets.toml or a folder.")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--codecs", help="Comma list [every learned codec and every available classical one]; "
                                "NAME:effortN benchmarks a learned codec at encoder effort N, weights:FILE the "
                                "codec of a weights file (e.g. an imported CompressAI model).")
@click.option("--split", type=click.Choice(["all", "train", "validation"]), default="all", show_default=True,
              help="validation: only the held-out images training never sees (the 3% split aecodec train uses).")
@click.option("--limit", type=int, help="Use the first N images in sorted order.")
@click.option("--jobs", type=int, default=1, show_default=True, help="Parallel worker processes.")
@click.option("--anchor", default="jpeg", show_default=True, help="BD-rate anchor codec.")
@click.option("--page-bpp", type=click.FloatRange(min=0, min_open=True), default=0.5, show_default=True,
              help="compare.html shows each codec at its setting closest to this bpp.")
@click.option("--page-images", type=click.IntRange(0), default=2, show_default=True,
              help="Images on compare.html (each codec codes each once more); 0: no page.")
def bench(dataset: str, out: Path, codecs: str | None, split: str, limit: int | None, jobs: int,
          anchor: str, page_bpp: float, page_images: int) -> None:
    """Rate-distortion benchmark from real bytes: results.json, per_image.csv, PNG plots, BD-rate table, and
    compare.html, a page to compare the codecs by eye at matched bytes (open it in any browser)."""
    from aecodec.eval import benchmark, compare
    from aecodec.training.data import resolve_images, split as train_validation

    def body():
        names = codecs.split(",") if codecs else benchmark.available_codecs()
        known = benchmark.available_codecs()
        for n in names:
            base, effort, weights = benchmark.parse_spec(n)
            if (base in known and effort) or weights:
                known.append(n)
            if n not in known:
                if n == "jpegxl":
                    click.echo("aecodec: notice: jpegxl skipped (pip install imagecodecs)", err=True)
                    continue
                raise aecodec.UnknownCodecError(f"unknown or unavailable codec {n!r} (available: {', '.join(known)})")
        names = [n for n in names if n in known]
        images = resolve_images(dataset)
        if split != "all":
            images = sorted(train_validation(images)[split == "validation"])
            if not images:
                raise aecodec.AecError(f"{dataset} has no {split} images")
        images = images[:limit] if limit else images
        points = benchmark.run_points(images, names, out, jobs)
        summary = benchmark.summarize(points, anchor)
        name = Path(dataset).name if Path(dataset).is_dir() else dataset
        benchmark.write_outputs(out, name if split == "all" else f"{name} ({split} split)", images, points, summary)
        click.echo(benchmark.bd_table(summary))
        wrote = "per_image.csv, rd_psnr.png, rd_ms_ssim.png"
        if page_images:
            compare.write_page(out, images[:page_images], names, points, summary, page_bpp)
            wrote += ", compare.html"
        click.echo(f"wrote {out / 'results.json'}, {wrote}")
    _run(body)


def _train_command() -> click.Command:
    """The real ``train`` command: the flags ``aecodec.training.flags`` builds (imports the training code)."""
    from aecodec.training.flags import from_flags, train_command
    from aecodec.training.loop import train

    def run(values: dict) -> None:
        def body():
            best = train(*from_flags(values))
            click.echo(f"weights: {best}")
        _run(body)

    return train_command(run, help=TRAIN_HELP)


TRAIN_HELP = ("Train a registered codec (--codec NAME) with the one rate-distortion loop; leaves a weights file "
              "and its provenance in --out (resumes from OUT/last.pt when present).")


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
              help=TRAIN_HELP)
@click.pass_context
def train(ctx: click.Context) -> None:
    # the flags are built from the training options only when training is asked for: `aecodec --help` stays fast
    _train_command().main(ctx.args, prog_name="aecodec train", standalone_mode=True)


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
