"""``aecodec info`` and ``aecodec list``: what files hold and which codecs there are, without PyTorch."""
from __future__ import annotations

import json
from pathlib import Path

import click

import aecodec
from aecodec.errors import AecError
from aecodec.files import read_input

from .common import INPUT, PATH, run_body


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=INPUT)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list for several files).")
@click.option("--weights", type=PATH, help="Check decodability with this weights file.")
def info(inputs: tuple[Path, ...], as_json: bool, weights: Path | None) -> None:
    """Show what .aec files hold (- reads stdin): codec, weights hash, quality, size, bpp, compression ratio.
    Every file is reported; one that cannot be read is named with its error, and the exit code is the worst."""
    def body():
        found, errors = [], []
        for p in inputs:
            try:
                data = click.get_binary_stream("stdin").read() if str(p) == "-" else read_input(p)
                found.append((p, aecodec.inspect(data, weights=weights)))
            except AecError as e:
                if len(inputs) == 1:
                    raise
                errors.append(e)
                name = "stdin" if str(p) == "-" else str(p)
                click.echo(f"aecodec: error: {e}" if name in str(e) else f"aecodec: error: {name}: {e}", err=True)
        if as_json and found:
            dicts = [fi.to_dict() for _, fi in found]
            click.echo(json.dumps(dicts[0] if len(inputs) == 1 else dicts, indent=1))
        elif not as_json:
            for path, fi in found:
                click.echo(_describe("stdin" if str(path) == "-" else path, fi))
        if errors:
            worst = max(errors, key=lambda e: e.exit_code)
            raise type(worst)(f"{len(errors)} of {len(inputs)} file(s) could not be read")
    run_body(body)


def _describe(name: str | Path, fi: aecodec.FileInfo) -> str:
    """``aecodec info``'s lines for one file."""
    if fi.array:
        a = fi.array
        return (f"{name}: {fi.codec} (id {fi.codec_id}, weights {fi.weights_hash}) array\n"
                f"  shape {tuple(a['shape'])} {a['dtype']}, error bound {a['error_bound']:g}, {fi.bytes} bytes, "
                f"{fi.bpp:.4f} bits per value, ratio {_ratio(fi.compression_ratio)}")
    exact = ", exact pixels (lossless: no larger than the codec's coding)" if fi.exact else ""
    return (f"{name}: {fi.codec} (id {fi.codec_id}, weights {fi.weights_hash}) quality {fi.quality:g}{exact}\n"
            f"  {fi.width}x{fi.height} {fi.mode}, {fi.tiles} tile(s), {fi.bytes} bytes, "
            f"{fi.bpp:.4f} bpp, ratio {_ratio(fi.compression_ratio)}"
            + ("" if fi.decodable else "\n  not decodable with these weights: this aecodec lacks that codec or "
                                       "weights (decode with --weights FILE)")
            + (f"\n  model: CompressAI {fi.imported['arch']} N={fi.imported['N']} M={fi.imported['M']}, "
               f"imported from {fi.imported.get('source_name', '?')} (sha256 {fi.imported['source_sha256']})"
               if fi.imported else ""))


def _ratio(r: float) -> str:
    """A compression ratio that stays readable below 1 (a tiny image's file is larger than its pixels)."""
    return f"{r:.1f}:1" if r >= 1 else f"1:{1 / r:.1f}" if r > 0 else "n/a"


@click.command(name="list")
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
