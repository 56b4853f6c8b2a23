"""The commands beside coding: ``denoise``, ``import compressai`` and the ``bench`` benchmark."""
from __future__ import annotations

from pathlib import Path

import click

import aecodec
from aecodec.atomic import write_atomic
from aecodec.files import check_output, image_bytes
from aecodec.registry import COMPRESSAI_ARCHS

from .common import PATH, complete_bench_codecs, run_body


@click.command()
@click.argument("input", type=PATH)
@click.option("-o", "--output", type=PATH,
              help="Output image; the format follows the suffix [INPUT with .denoised.png suffix].")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
def denoise(input: Path, output: Path | None, force: bool) -> None:
    """Remove noise from an image with the trained denoising autoencoder (aecodec.ae.denoise)."""
    def body():
        from aecodec.ae.denoise import denoise as run

        out = output or input.with_suffix(".denoised.png")
        check_output(out, force)
        write_atomic(out, image_bytes(run(input), out))
    run_body(body)


@click.group(name="import")
def import_() -> None:
    """Turn models of other libraries into aecodec weights files (then: encode/decode/bench --weights FILE)."""


@import_.command(name="compressai")
@click.argument("checkpoint", type=PATH)
@click.option("--arch", required=True, type=click.Choice(sorted(COMPRESSAI_ARCHS)),
              help="The CompressAI zoo architecture the checkpoint was trained as (N and M are read from it).")
@click.option("-o", "--output", type=PATH, required=True, help="Weights file to write.")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
def import_compressai(checkpoint: Path, arch: str, output: Path, force: bool) -> None:
    """A CompressAI state_dict (torch.save(net.state_dict()), or an example-script checkpoint) -> a weights file
    whose files decode exactly on every machine: integer hyper-synthesis, stored CDF tables, the .aec container.
    Its provenance JSON (source SHA-256, arch, N, M) is written beside it."""
    def body():
        check_output(output, force)
        meta = aecodec.import_compressai(checkpoint, arch, output)
        click.echo(f"wrote {output}: {arch} N={meta['N']} M={meta['M']} (codec {meta['codec']}), from "
                   f"{checkpoint.name} sha256 {meta['source_sha256'][:16]}...; use it with --weights {output}")
    run_body(body)


@click.command()
@click.option("--dataset", default="kodak", show_default=True, help="Name in datasets.toml or a folder.")
@click.option("--out", "out", type=PATH, required=True, help="Output folder.")
@click.option("--codecs", shell_complete=complete_bench_codecs,
              help="Comma list [every learned codec and every available classical one]; "
                   "NAME:effortN benchmarks a learned codec at encoder effort N, weights:FILE the "
                   "codec of a weights file (e.g. an imported CompressAI model).")
@click.option("--split", type=click.Choice(["all", "train", "validation"]), default="all", show_default=True,
              help="validation: only the held-out images training never sees (the 3% split aecodec train uses).")
@click.option("--limit", type=click.IntRange(1), help="Use the first N images in sorted order.")
@click.option("--jobs", type=click.IntRange(1), default=1, show_default=True, help="Parallel worker processes.")
@click.option("--anchor", default="jpeg", shell_complete=complete_bench_codecs, show_default=True,
              help="BD-rate anchor codec.")
@click.option("--page-bpp", type=click.FloatRange(min=0, min_open=True), default=0.5, show_default=True,
              help="compare.html shows each codec at its setting closest to this bpp.")
@click.option("--page-images", type=click.IntRange(0), default=2, show_default=True,
              help="Images on compare.html (each codec codes each once more); 0: no page.")
def bench(dataset: str, out: Path, codecs: str | None, split: str, limit: int | None, jobs: int,
          anchor: str, page_bpp: float, page_images: int) -> None:
    """Rate-distortion benchmark from real bytes: results.json, per_image.csv, PNG plots, BD-rate table, and
    compare.html, a page to compare the codecs by eye, each at its setting nearest --page-bpp (open it in any
    browser)."""
    from aecodec.eval.benchmark import BenchConfig, run

    def body():
        result = run(BenchConfig(out, dataset, codecs, split, limit, jobs, anchor, page_bpp, page_images),
                     notice=lambda message: click.echo(f"aecodec: notice: {message}", err=True))
        click.echo(result.table())
        click.echo(f"wrote {result.written[0]}, {', '.join(p.name for p in result.written[1:])}")
    run_body(body)
