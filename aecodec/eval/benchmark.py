"""Rate-distortion benchmark: every number from real bytes and real decodes.

One task = (codec, setting, image). Each finished task is cached as a small JSON file under ``out/cache`` so
an interrupted run resumes where it stopped; ``jobs`` processes share the images.
"""
from __future__ import annotations

import csv
import hashlib
import json
import multiprocessing
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from .baselines import BASELINES
from ..errors import UnknownCodecError
from .metrics import bd_rate, bpp, compression_ratio, ms_ssim_rgb, psnr, ssim_rgb
from ..registry import get_codec, list_codecs
from ..variants import resolve


@dataclass
class Point:
    codec: str
    quality: float
    image: str
    bytes: int
    bpp: float
    psnr: float
    ssim: float
    ms_ssim: float
    ratio: float
    enc_s: float
    dec_s: float


def available_codecs() -> list[str]:
    """The registered image codecs with shipped weights, then the classical codecs installed here."""
    return [c.name for c in list_codecs("image") if c.weights] + [n for n, b in BASELINES.items() if b.available()]


def parse_spec(spec: str) -> tuple[str, int, str | None]:
    """A benchmarked curve -> (codec, encoder effort, weights file or None): 'hyperprior' ->
    ('hyperprior', 0, None); 'hyperprior:effort2' -> ('hyperprior', 2, None); 'weights:FILE' -> (the codec of
    that weights file, e.g. an imported CompressAI model, 0, 'FILE')."""
    name, _, option = spec.partition(":")
    if name == "weights" and option:
        if not Path(option).is_file():
            raise UnknownCodecError(f"bad codec spec {spec!r}: no weights file {option}")
        return resolve(None, option).name, 0, option
    if not option:
        return name, 0, None
    if name in BASELINES or not option.startswith("effort") or not option[len("effort"):].isdigit():
        raise UnknownCodecError(f"bad codec spec {spec!r} (learned codecs take :effortN, or weights:FILE)")
    return name, int(option[len("effort"):]), None


def cache_key(spec: str) -> str:
    """A spec as a folder name: 'weights:FILE' by the file's content, so a changed file is measured anew."""
    if spec.startswith("weights:"):
        return "weights-" + hashlib.sha256(Path(spec[len("weights:"):]).read_bytes()).hexdigest()[:16]
    return spec


def _settings(codec: str) -> tuple[float, ...]:
    name, _, _ = parse_spec(codec)
    return BASELINES[name].settings if name in BASELINES else get_codec(name).qualities


def _measure(task: tuple[str, float, str]) -> Point:
    codec, q, path = task
    import aecodec

    im = Image.open(path).convert("RGB")
    if codec in BASELINES:
        b = BASELINES[codec]
        t0 = time.perf_counter()
        data = b.encode(im, q)
        t1 = time.perf_counter()
        out = b.decode(data)
    else:
        name, effort, weights = parse_spec(codec)
        t0 = time.perf_counter()
        data = aecodec.encode(im, codec=name, quality=q, effort=effort, weights=weights)
        t1 = time.perf_counter()
        out = aecodec.decode(data, weights=weights)
    t2 = time.perf_counter()
    a, r = np.asarray(im), np.asarray(out.convert("RGB"))
    w, h = im.size
    return Point(codec, q, Path(path).name, len(data), bpp(len(data), w, h), psnr(a, r), ssim_rgb(a, r),
                 ms_ssim_rgb(a, r), compression_ratio(len(data), w, h), t1 - t0, t2 - t1)


def init_worker(threads: int = 0) -> None:
    """Worker-process setup shared by the benchmark and the CLI's folder runs: a thread budget, and (Linux)
    a death signal, so workers never outlive a killed parent and keep burning CPU."""
    import sys

    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if threads:
        import torch

        torch.set_num_threads(threads)


def run_points(images: list[Path], codecs: list[str], out: Path, jobs: int = 1) -> list[Point]:
    """Measure every (codec, setting, image), reusing cached points."""
    cache = out / "cache"
    tasks, points = [], []
    for codec in codecs:
        for q in _settings(codec):
            for img in images:
                f = cache / cache_key(codec) / f"{q:g}" / f"{img.name}.json"
                if f.exists():
                    points.append(Point(**json.loads(f.read_text())))
                else:
                    tasks.append((codec, q, str(img)))
    threads = max(1, (os.cpu_count() or 1) // max(1, jobs))
    # spawn, not fork: a forked child of a process that already ran torch's thread pools can deadlock
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=init_worker, initargs=(threads,)) as pool:
        for p in tqdm(pool.map(_measure, tasks), total=len(tasks), desc="bench", dynamic_ncols=True):
            f = cache / cache_key(p.codec) / f"{p.quality:g}" / f"{p.image}.json"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(json.dumps(asdict(p)))
            points.append(p)
    return points


def summarize(points: list[Point], anchor: str = "jpeg") -> dict:
    """Per codec and setting: means over images (medians for times); BD-rates against ``anchor``."""
    curves: dict[str, list[dict]] = {}
    for codec in dict.fromkeys(p.codec for p in points):
        rows = []
        for q in sorted({p.quality for p in points if p.codec == codec}):
            ps = [p for p in points if p.codec == codec and p.quality == q]
            rows.append({"quality": q, "images": len(ps),
                         **{k: statistics.fmean(getattr(p, k) for p in ps)
                            for k in ("bpp", "psnr", "ssim", "ms_ssim", "ratio")},
                         **{k: statistics.median(getattr(p, k) for p in ps) for k in ("enc_s", "dec_s")}})
        curves[codec] = sorted(rows, key=lambda r: r["bpp"])
    bd: dict = {"anchor": anchor, "psnr": {}, "ms_ssim": {}}
    if anchor in curves:
        a = curves[anchor]
        for codec, rows in curves.items():
            for metric in ("psnr", "ms_ssim"):
                try:
                    bd[metric][codec] = bd_rate([r["bpp"] for r in a], [r[metric] for r in a],
                                                [r["bpp"] for r in rows], [r[metric] for r in rows])
                except ValueError:
                    bd[metric][codec] = float("nan")
    return {"codecs": curves, "bd_rate": bd}


def write_outputs(out: Path, dataset: str, images: list[Path], points: list[Point], summary: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    result = {"dataset": dataset, "images": [p.name for p in images], **summary}
    (out / "results.json").write_text(json.dumps(result, indent=1, allow_nan=True) + "\n")
    with open(out / "per_image.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(list(asdict(points[0])))
        for p in sorted(points, key=lambda p: (p.codec, p.quality, p.image)):
            w.writerow(list(asdict(p).values()))
    plot(out, summary["codecs"], dataset, len(images))


# One colour and marker per codec, the same in every plot: classical codecs, then ours; published curves are
# dashed in muted tones of their own, so they never share a colour with a measured curve.
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
            "#7f7f7f", "#393b79", "#637939", "#843c39", "#7b4173", "#3182bd", "#e6550d")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p", "d", "H", "8", "x")
_MUTED = ("#9e9ac8", "#a1d99b", "#fdae6b", "#9ecae1", "#fcbba1", "#bdbdbd", "#c7e9c0", "#dadaeb")


def style_of(codec: str) -> tuple[str, str]:
    """(colour, marker) of a codec: fixed by its place among the known codecs (classical, then registered),
    by a stable hash of its name otherwise (e.g. ``NAME:effort1``, ``weights:FILE``)."""
    from ..registry import list_codecs

    known = list(BASELINES) + [c.name for c in list_codecs("image") if c.weights]
    i = known.index(codec) if codec in known else len(known) + sum(map(ord, codec))
    return _PALETTE[i % len(_PALETTE)], _MARKERS[i % len(_MARKERS)]


def plot(out: Path, curves: dict[str, list[dict]], dataset: str, n_images: int) -> None:
    """rd_psnr.png and rd_ms_ssim.png; on Kodak with the published curves of ../shared/anchors beside ours."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    published = {}
    if dataset == "kodak":
        f = Path(__file__).resolve().parents[3] / "shared" / "anchors" / "kodak_published.json"
        if f.exists():
            published = json.loads(f.read_text())["curves"]
    title = f"{dataset}: {n_images} image{'s' if n_images != 1 else ''}, means of bpp and quality"
    if published:
        title += "\npublished curves (dashed): 24-image means from their papers"
    for metric, key, label in (("psnr", "psnr_rgb", "PSNR-RGB (dB)"), ("ms_ssim", "ms_ssim_rgb", "MS-SSIM (RGB)")):
        fig, ax = plt.subplots(figsize=(10, 6))
        shown = [(n, c) for n, c in published.items() if key in c and "MS-SSIM" not in n]
        for i, (name, c) in enumerate(shown):
            ax.plot(c["bpp"], c[key], "--", lw=1.2, color=_MUTED[i % len(_MUTED)], label=f"{name} (published)")
        for codec, rows in curves.items():
            colour, marker = style_of(codec)
            ax.plot([r["bpp"] for r in rows], [r[metric] for r in rows], "-", marker=marker, color=colour,
                    lw=1.5 if codec in BASELINES else 2.5, ms=4, label=codec)
        ax.set_xlim(0, 2.2)
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel(label)
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        fig.tight_layout()
        fig.savefig(out / f"rd_{metric}.png", dpi=110)
        plt.close(fig)


def bd_table(summary: dict) -> str:
    bd = summary["bd_rate"]
    w = max([len("codec"), *map(len, bd["psnr"])]) + 2
    lines = [f"BD-rate vs {bd['anchor']} (negative = fewer bits)", f"{'codec':<{w}}{'PSNR':>10}{'MS-SSIM':>10}"]
    for codec in bd["psnr"]:
        lines.append(f"{codec:<{w}}{bd['psnr'][codec]:>9.1f}%{bd['ms_ssim'][codec]:>9.1f}%")
    return "\n".join(lines)
