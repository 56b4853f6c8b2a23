"""Rate-distortion benchmark: every number from real bytes and real decodes.

One task = (codec, setting, image). Each finished task is cached as a small JSON file under ``out/cache`` so
an interrupted run resumes where it stopped; ``jobs`` processes share the images.
"""
from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from .. import workers
from ..atomic import write_atomic
from ..datasets import resolve_images, split
from ..errors import AecError
from ..files import check_folder
from ..registry import list_codecs
from .baselines import BASELINES
from .compare import write_page
from .metrics import BD_METRICS, METRICS, bpp, compression_ratio
from .specs import OPTIONAL, cache_key, code, resolve_codecs, settings
from .summary import Summary, bd_table, summarize


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

    @classmethod
    def from_dict(cls, d: dict) -> "Point | None":
        """A cached point, or None when it was written with other fields (measured again, not misread)."""
        return cls(**d) if set(d) == set(cls.__dataclass_fields__) else None


PUBLISHED = Path(__file__).parent / "anchors" / "kodak_published.json"


def published_curves() -> dict:
    """Published Kodak curves (name -> bpp, psnr_rgb, ms_ssim_rgb lists), shipped with the package: CompressAI's
    ``results/image/kodak`` figures of learned and classical codecs."""
    return json.loads(PUBLISHED.read_text())["curves"]


_WARM: set[str] = set()  # codecs this worker has run once


def _measure(task: tuple[str, float, str]) -> Point:
    """One (codec, setting, image) point; its times are taken after the worker ran the codec once on a small
    image, so they hold no model loading or first-call warm-up."""
    codec, q, path = task
    im = Image.open(path).convert("RGB")
    if codec not in _WARM:
        code(codec, q, im.crop((0, 0, min(im.width, 64), min(im.height, 64))))
        _WARM.add(codec)
    t0 = time.perf_counter()
    data, out, t1 = code(codec, q, im)
    t2 = time.perf_counter()
    a, r = np.asarray(im), np.asarray(out.convert("RGB"))
    w, h = im.size
    return Point(codec=codec, quality=q, image=Path(path).name, bytes=len(data), bpp=bpp(len(data), w, h),
                 **{m.name: m.function(a, r) for m in METRICS}, ratio=compression_ratio(len(data), w, h),
                 enc_s=t1 - t0, dec_s=t2 - t1)


def run_points(images: list[Path], codecs: list[str], out: Path, jobs: int = 1) -> list[Point]:
    """Measure every (codec, setting, image), reusing cached points."""
    cache = out / "cache"
    tasks, points = [], []
    for codec in codecs:
        for q in settings(codec):
            for img in images:
                f = cache / cache_key(codec) / f"{q:g}" / f"{img.name}.json"
                cached = Point.from_dict(json.loads(f.read_text())) if f.exists() else None
                if cached is not None:
                    points.append(cached)
                else:
                    tasks.append((codec, q, str(img)))
    threads = max(1, (os.cpu_count() or 1) // max(1, jobs))
    results = workers.imap(_measure, tasks, jobs, threads)
    try:
        for p in tqdm(results, total=len(tasks), desc="bench", dynamic_ncols=True):
            f = cache / cache_key(p.codec) / f"{p.quality:g}" / f"{p.image}.json"
            f.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(f, json.dumps(asdict(p)).encode())
            points.append(p)
    finally:
        results.close()  # an early stop (Ctrl-C, an error) ends the workers at once
    return points


def write_outputs(out: Path, dataset: str, images: list[Path], points: list[Point], summary: Summary) -> None:
    out.mkdir(parents=True, exist_ok=True)
    result = {"dataset": dataset, "images": [p.name for p in images], **summary.to_json()}
    (out / "results.json").write_text(json.dumps(result, indent=1, allow_nan=True) + "\n")
    with open(out / "per_image.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(list(asdict(points[0])))
        for p in sorted(points, key=lambda p: (p.codec, p.quality, p.image)):
            w.writerow(list(asdict(p).values()))
    plot(out, summary.curves(), dataset, len(images))


# One colour and marker per codec, the same in every plot: classical codecs, then ours; published curves are
# dashed in muted tones of their own, so they never share a colour with a measured curve.
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
            "#7f7f7f", "#393b79", "#637939", "#843c39", "#7b4173", "#3182bd", "#e6550d")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p", "d", "H", "8", "x")
_OTHERS = ("#000000", "#e7298a", "#66a61e", "#a6761d", "#1b9e77", "#d95f02")
_OTHER_MARKERS = ("1", "2", "3", "4", "+", "|")
_MUTED = ("#9e9ac8", "#a1d99b", "#fdae6b", "#9ecae1", "#fcbba1", "#bdbdbd", "#c7e9c0", "#dadaeb")


def style_of(codec: str) -> tuple[str, str]:
    """(colour, marker) of a codec: fixed by its place among the known codecs (classical, then registered),
    by a stable hash of its name otherwise (e.g. ``NAME:effort1``, ``weights:FILE``)."""
    known = list(BASELINES) + [c.name for c in list_codecs("image") if c.weights]
    if codec in known:
        i = known.index(codec)
        return _PALETTE[i % len(_PALETTE)], _MARKERS[i % len(_MARKERS)]
    i = sum(map(ord, codec))  # colours and markers no known codec has
    return _OTHERS[i % len(_OTHERS)], _OTHER_MARKERS[i % len(_OTHER_MARKERS)]


def plot(out: Path, curves: dict[str, list[dict]], dataset: str, n_images: int, stem: str = "rd",
         published_only: list[str] | None = None) -> None:
    """STEM_psnr.png and STEM_ms_ssim.png; on Kodak with the published curves (``published_curves``) beside ours
    (those named in ``published_only``, the part of a name before " (", when it is given)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    published = {}
    title = f"{dataset}: {n_images} image{'s' if n_images != 1 else ''}, means of bpp and quality"
    if dataset == "kodak":
        published = published_curves()
        title += "\npublished curves (dashed): 24-image means from their papers"
    top = max(r["bpp"] for rows in curves.values() for r in rows)
    for m in BD_METRICS:
        metric, key, label, y = m.name, m.published, m.axis, m.plotted
        fig, ax = plt.subplots(figsize=(10, 6))
        shown = [(n, c) for n, c in published.items() if key in c and "MS-SSIM" not in n
                 and (published_only is None or n.split(" (")[0] in published_only)]
        for i, (name, c) in enumerate(shown):
            ax.plot(c["bpp"], [y(v) for v in c[key]], "--", lw=1.2, color=_MUTED[i % len(_MUTED)],
                    label=f"{name} (published)")
        for codec, rows in curves.items():
            colour, marker = style_of(codec)
            ax.plot([r["bpp"] for r in rows], [y(r[metric]) for r in rows], "-", marker=marker, color=colour,
                    lw=1.5 if codec in BASELINES else 2.5, ms=4, label=codec)
        ax.set_xlim(0, 1.04 * top)  # every measured point shows
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel(label)
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        fig.tight_layout()
        fig.savefig(out / f"{stem}_{metric}.png", dpi=110)
        plt.close(fig)


@dataclass(frozen=True)
class BenchConfig:
    """``aecodec bench``'s options: ``codecs`` a comma list (None: every available codec), ``split`` "all",
    "train" or "validation", ``page_images`` 0 for no compare page."""

    out: Path
    dataset: str = "kodak"
    codecs: str | None = None
    split: str = "all"
    limit: int | None = None
    jobs: int = 1
    anchor: str = "jpeg"
    page_bpp: float = 0.5
    page_images: int = 2


@dataclass
class BenchResult:
    codecs: list[str]
    skipped: list[str]  # optional codecs whose package is missing
    images: list[Path]
    points: list[Point]
    summary: Summary
    written: list[Path]

    def table(self) -> str:
        return bd_table(self.summary)


def run(config: BenchConfig, notice: Callable[[str], None] = lambda message: None) -> BenchResult:
    """Run the benchmark ``config`` describes; ``notice`` hears of skipped codecs before the long part starts."""
    if config.split not in ("all", "train", "validation"):
        raise AecError(f"split must be all, train or validation, not {config.split!r}")
    names, skipped = resolve_codecs(config.codecs, config.anchor)
    for n in skipped:
        notice(f"{n} skipped ({OPTIONAL[n]})")
    out = Path(config.out)
    check_folder(out, create=True)
    images = resolve_images(config.dataset)
    if config.split != "all":
        images = sorted(split(images)[config.split == "validation"])
        if not images:
            raise AecError(f"{config.dataset} has no {config.split} images")
    images = images[:config.limit] if config.limit else images
    points = run_points(images, names, out, config.jobs)
    summary = summarize(points, config.anchor)
    name = Path(config.dataset).name if Path(config.dataset).is_dir() else config.dataset
    write_outputs(out, name if config.split == "all" else f"{name} ({config.split} split)", images,
                  points, summary)
    written = [out / "results.json", out / "per_image.csv", *(out / f"rd_{m.name}.png" for m in BD_METRICS)]
    if config.page_images:
        written.append(write_page(out, images[:config.page_images], names, points, summary,
                                          config.page_bpp))
    return BenchResult(names, skipped, images, points, summary, written)
