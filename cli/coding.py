"""``aecodec encode`` and ``aecodec decode``: a file, a pipe (-), or a folder (``aecodec.encode_folder``). Every
refusal that needs no model comes before PyTorch loads; the coding itself is ``aecodec.files``'."""
from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import click
from PIL import Image

import aecodec
from aecodec.atomic import write_atomic
from aecodec.errors import AecError
from aecodec.files import (
    MAX_PIXELS,
    OUTPUT_QUALITY,
    EncodeOptions,
    check_encode_output,
    check_image,
    check_output,
    decode_data,
    decode_file,
    encode_file,
    encode_image,
    image_bytes,
    read_input,
    resolve_device,
)
from aecodec.sources import is_folder, is_url

from .common import (
    INPUT,
    PATH,
    check_piped_output,
    complete_codec,
    default_output,
    emit,
    folder_run,
    report_folder,
    run_body,
    say,
    to_stdout,
)


@click.command()
@click.argument("input", type=INPUT)
@click.option("-o", "--output", type=INPUT,
              help="Output .aec file [INPUT with .aec suffix]; for a folder, the output folder or URL prefix.")
@click.option("-q", "--quality", type=float, help="Quality level (fractional allowed) [codec default].")
@click.option("--codec", shell_complete=complete_codec,
              help="Codec name (see `aecodec list`) [the default codec].")
@click.option("--bpp", type=float, help="Rate control: highest quality whose file fits this many bits per pixel.")
@click.option("--size", "size", help="Rate control: highest quality whose file fits this size (e.g. 50KB, 1.5MB).")
@click.option("--psnr", type=float, help="Rate control: lowest quality whose decoded PSNR reaches this (dB).")
@click.option("--error-bound", type=float,
              help="Arrays (.npy input): the largest absolute error allowed per value (required for arrays).")
@click.option("--effort", type=click.IntRange(0, 3), default=0, show_default=True,
              help="Encoder effort: 1-3 refine the latents per image for smaller files (25, 100, 300 synthesis "
                   "passes; each level several times slower, docs/results.md#encoder-effort). Decoding is "
                   "unaffected.")
@click.option("--weights", type=PATH,
              help="A compatible weights file (e.g. from `aecodec train`) instead of the shipped one.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@click.option("--jobs", type=click.IntRange(1), default=1, show_default=True, help="Parallel processes for folders.")
@click.option("--batch", type=click.IntRange(1), default=1, show_default=True,
              help="Folders: images per transform pass, in one process (use 8+ with --device cuda).")
@click.option("--max-pixels", type=click.IntRange(0), default=MAX_PIXELS, show_default=True,
              help="Refuse larger images at once, from their header (decompression bombs); 0: no limit.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Folders: ray codes them on a Ray cluster (pip install 'aecodec[ray]'), INPUT and -o folders "
                   "or URL prefixes.")
@click.option("--address", help="--engine ray: the cluster's address [the one Ray finds, or a local one].")
def encode(input: Path, output: Path | None, quality: float | None, codec: str | None, bpp: float | None,
           size: str | None, psnr: float | None, error_bound: float | None, weights: Path | None, effort: int,
           device: str, force: bool, jobs: int, batch: int, max_pixels: int, engine: str, address: str | None) -> None:
    """Compress an image to .aec, or every image in a folder (INPUT a folder, -o the output folder).
    A .npy input (1-D or 2-D float array) is coded by the array codec within --error-bound."""
    local = not is_url(input)
    if local and input.suffix.lower() == ".npy":
        def array():
            if error_bound is None:
                raise click.UsageError("arrays need --error-bound (the largest absolute error allowed)")
            out = output or input.with_suffix(".aec")
            check_output(out, force)
            write_atomic(out, aecodec.encode_array(input, error_bound, codec=codec, weights=weights))
        run_body(array)
        return

    def options() -> EncodeOptions:
        """The settings, once every refusal that needs no model has been made."""
        if sum(v is not None for v in (quality, bpp, size, psnr)) > 1:
            raise click.UsageError("give at most one of -q, --bpp, --size, --psnr")
        if error_bound is not None:
            raise click.UsageError("--error-bound applies to arrays (.npy input), not to images")
        from aecodec.variants import encode_settings

        encode_settings(codec, quality, effort, weights)
        max_bytes = _parse_size(size) if size else None
        for name, value in (("--bpp", bpp), ("--size", max_bytes), ("--psnr", psnr)):
            if value is not None and not value > 0:
                raise click.BadParameter(f"{name} must be positive, not {value}")
        resolve_device(device)
        return EncodeOptions(codec, quality, bpp, max_bytes, psnr, effort, weights, device, max_pixels)

    if engine == "ray":
        def on_ray():
            o = options()
            if output is None or o.targets or effort:
                raise click.UsageError("--engine ray codes a folder to -o FOLDER at a quality (-q), without rate "
                                       "targets or --effort")
            try:
                from aecodec.ray import encode_prefix
            except ImportError:
                raise AecError("--engine ray needs Ray: pip install 'aecodec[ray]'") from None
            report_folder("encode", encode_prefix(str(input), str(output), codec=codec, quality=quality,
                                                  address=address, force=force, weights=weights))
        run_body(on_ray)
        return
    if is_folder(input):
        def folder():
            folder_run("encode", aecodec.encode_folder, src=input, dst=output, **asdict(options()), force=force,
                       jobs=jobs, batch=batch)
        run_body(folder)
        return

    def body():
        o = options()
        if is_url(output):
            raise click.UsageError("a URL output takes a folder input (or --engine ray); write one file locally")
        t = time.perf_counter()
        if str(input) == "-" or str(output) == "-":
            check_piped_output(output, force, check_encode_output)
            if str(input) == "-":
                src, name = click.get_binary_stream("stdin").read(), "stdin"
            else:
                src, name = (input, None) if local else (read_input(input), input)
            check_image(src, max_pixels, name)
            data = encode_image(src, o)
            emit(data, output)
        else:
            data = encode_file(input, output or default_output(input, ".aec"), o, force)
        fi = aecodec.inspect(data)
        say(f"{'stdin' if str(input) == '-' else input}: {fi.bytes} bytes, {fi.bpp:.4f} bpp, {fi.codec} quality "
            f"{fi.quality:g}, {time.perf_counter() - t:.2f} s")
    run_body(body)


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


@click.command()
@click.argument("input", type=INPUT)
@click.option("-o", "--output", type=PATH,
              help="Output image; the format follows the suffix [INPUT with .png suffix].")
@click.option("--weights", type=PATH,
              help="The weights file the .aec file was made with, when it was not the shipped one.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--output-quality", type=click.IntRange(1, 100), default=OUTPUT_QUALITY, show_default=True,
              help="A .jpg, .webp or .avif output codes the decoded pixels again, at this quality (100: lossless "
                   "WebP); PNG and folder outputs are lossless.")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@click.option("--jobs", type=click.IntRange(1), default=1, show_default=True, help="Parallel processes for folders.")
@click.option("--batch", type=click.IntRange(1), default=1, show_default=True,
              help="Folders: images per synthesis pass, in one process (use 8+ with --device cuda).")
def decode(input: Path, output: Path | None, weights: Path | None, device: str, output_quality: int, force: bool,
           jobs: int, batch: int) -> None:
    """Decompress an .aec file to an image, or every .aec file in a folder (-o the output folder)."""
    if not is_url(input) and input.is_dir():
        run_body(lambda: folder_run("decode", aecodec.decode_folder, src=input, dst=output, device=device,
                                    weights=weights, force=force, jobs=jobs, batch=batch))
        return
    if str(input) == "-" or str(output) == "-":
        def piped():
            check_piped_output(output, force)
            out = None if to_stdout(output) else output
            data = click.get_binary_stream("stdin").read() if str(input) == "-" else read_input(input)
            d = _said(input, lambda: decode_data(data, out, device, weights))
            emit(d if isinstance(d, bytes) else image_bytes(d, out, output_quality), output)
        run_body(piped)
        return
    out = output or default_output(input, ".npy" if _holds_array(input) else ".png")
    run_body(lambda: _said(input, lambda: decode_file(input, out, device, weights, force, output_quality)))


def _said(input: Path, decode: Callable[[], bytes | Image.Image]) -> bytes | Image.Image:
    """``decode()``, and with -v the image it gave and the seconds it took."""
    t = time.perf_counter()
    d = decode()
    if not isinstance(d, bytes):
        say(f"{input}: {d.width}x{d.height} {d.mode}, {time.perf_counter() - t:.2f} s")
    return d


def _holds_array(path: Path | str) -> bool:
    """Whether an .aec file holds an array (decoded to .npy) rather than an image; unreadable files are left
    to the decoder to report."""
    try:
        return aecodec.inspect(read_input(path)).mode == "F"
    except (OSError, AecError):
        return False
