"""Rate-distortion benchmark: every number from real bytes and real decodes.

One task = (codec, setting, image). Each finished task is cached as a small JSON file under ``out/cache`` so
an interrupted run resumes where it stopped; ``jobs`` processes share the images.
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from .. import workers
from ..atomic import write_atomic
from ..errors import UnknownCodecError
from ..registry import SINGLE_RATE, get_codec, list_codecs
from ..variants import resolve
from .baselines import BASELINES
from .metrics import BD_METRICS, METRICS, bd_rate, bpp, compression_ratio


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


def available_codecs() -> list[str]:
    """The registered image codecs with shipped weights, then the classical codecs installed here."""
    return [c.name for c in list_codecs("image") if c.weights] + [n for n, b in BASELINES.items() if b.available()]


OPTIONAL = {"jpegxl": "pip install imagecodecs"}  # classical codecs an extra provides


def resolve_codecs(spec: str | None, anchor: str) -> tuple[list[str], list[str]]:
    """(the curves to benchmark, the optional ones skipped for want of their package) of a comma list (None:
    every available codec); an unknown name, an empty list, or an ``anchor`` not among them is refused here,
    before any coding."""
    known = available_codecs()
    names = known if spec is None else [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise UnknownCodecError(f"no codec given (available: {', '.join(known)})")
    chosen, skipped = [], []
    for n in names:
        base, effort, weights = parse_spec(n)
        if n in known or (base in known and effort) or weights:
            chosen.append(n)
        elif n in OPTIONAL and n in BASELINES:
            skipped.append(n)
        else:
            raise UnknownCodecError(f"unknown or unavailable codec {n!r:.60} (available: {', '.join(known)})")
    if anchor not in chosen:
        raise UnknownCodecError(f"the BD-rate anchor {anchor!r:.60} is not among the benchmarked codecs "
                                f"({', '.join(chosen)}): add it to --codecs or pick another --anchor")
    return chosen, skipped


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


PUBLISHED = Path(__file__).parent / "anchors" / "kodak_published.json"


def published_curves() -> dict:
    """Published Kodak curves (name -> bpp, psnr_rgb, ms_ssim_rgb lists), shipped with the package: CompressAI's
    ``results/image/kodak`` figures of learned and classical codecs."""
    return json.loads(PUBLISHED.read_text())["curves"]


def cache_key(spec: str) -> str:
    """A spec as a folder name: 'weights:FILE' by the file's content, so a changed file is measured anew."""
    if spec.startswith("weights:"):
        return "weights-" + hashlib.sha256(Path(spec[len("weights:"):]).read_bytes()).hexdigest()[:16]
    return spec


def _settings(codec: str) -> tuple[float, ...]:
    name, _, _ = parse_spec(codec)
    return BASELINES[name].settings if name in BASELINES else get_codec(name).qualities or (SINGLE_RATE,)


_WARM: set[str] = set()  # codecs this worker has run once


def _measure(task: tuple[str, float, str]) -> Point:
    """One (codec, setting, image) point; its times are taken after the worker ran the codec once on a small
    image, so they hold no model loading or first-call warm-up."""
    codec, q, path = task
    im = Image.open(path).convert("RGB")
    if codec not in _WARM:
        _code(codec, q, im.crop((0, 0, min(im.width, 64), min(im.height, 64))))
        _WARM.add(codec)
    t0 = time.perf_counter()
    data, out, t1 = _code(codec, q, im)
    t2 = time.perf_counter()
    a, r = np.asarray(im), np.asarray(out.convert("RGB"))
    w, h = im.size
    return Point(codec=codec, quality=q, image=Path(path).name, bytes=len(data), bpp=bpp(len(data), w, h),
                 **{m.name: m.function(a, r) for m in METRICS}, ratio=compression_ratio(len(data), w, h),
                 enc_s=t1 - t0, dec_s=t2 - t1)


def _code(codec: str, q: float, im: Image.Image) -> tuple[bytes, Image.Image, float]:
    """(file bytes, decoded image, the time the encode ended)."""
    import aecodec

    if codec in BASELINES:
        b = BASELINES[codec]
        data = b.encode(im, q)
        t1 = time.perf_counter()
        return data, b.decode(data), t1
    name, effort, weights = parse_spec(codec)
    data = aecodec.encode(im, codec=name, quality=q, effort=effort, weights=weights)
    t1 = time.perf_counter()
    return data, aecodec.decode(data, weights=weights), t1


def decoded(codec: str, q: float, im: Image.Image) -> Image.Image:
    """What ``codec`` at setting ``q`` decodes ``im`` to (the bytes of the benchmark, decoded)."""
    return _code(codec, q, im)[1]


def run_points(images: list[Path], codecs: list[str], out: Path, jobs: int = 1) -> list[Point]:
    """Measure every (codec, setting, image), reusing cached points."""
    cache = out / "cache"
    tasks, points = [], []
    for codec in codecs:
        for q in _settings(codec):
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


@dataclass
class Row:
    """One setting of a curve: means over the images (medians for the times)."""

    quality: float
    images: int
    bpp: float
    psnr: float
    ssim: float
    ms_ssim: float
    ratio: float
    enc_s: float
    dec_s: float


@dataclass
class BDRates:
    """BD-rates (percent, negative: fewer bits) against ``anchor``, per metric of ``BD_METRICS`` and codec; nan
    where there is none, and why in ``why_none``."""

    anchor: str
    rates: dict[str, dict[str, float]]
    why_none: dict[str, str]

    def __getitem__(self, metric: str) -> dict[str, float]:
        return self.rates[metric]


@dataclass
class Summary:
    """A benchmark's curves (each codec's rows, by bpp) and BD-rates: ``results.json`` is its ``to_json``."""

    codecs: dict[str, list[Row]]
    bd_rate: BDRates

    def curves(self) -> dict[str, list[dict]]:
        return {c: [asdict(r) for r in rows] for c, rows in self.codecs.items()}

    def to_json(self) -> dict:
        bd = self.bd_rate
        return {"codecs": self.curves(), "bd_rate": {"anchor": bd.anchor, **bd.rates, "why_none": bd.why_none}}


def summarize(points: list[Point], anchor: str = "jpeg") -> Summary:
    """Per codec and setting: means over images (medians for times); BD-rates against ``anchor``."""
    curves: dict[str, list[Row]] = {}
    for codec in dict.fromkeys(p.codec for p in points):
        rows = []
        for q in sorted({p.quality for p in points if p.codec == codec}):
            ps = [p for p in points if p.codec == codec and p.quality == q]
            rows.append(Row(quality=q, images=len(ps),
                            **{k: statistics.fmean(getattr(p, k) for p in ps)
                               for k in ("bpp", *(m.name for m in METRICS), "ratio")},
                            **{k: statistics.median(getattr(p, k) for p in ps) for k in ("enc_s", "dec_s")}))
        curves[codec] = sorted(rows, key=lambda r: r.bpp)
    bd = BDRates(anchor, {m.name: {} for m in BD_METRICS}, {})
    if anchor in curves:
        a = curves[anchor]
        for codec, rows in curves.items():
            for metric in (m.name for m in BD_METRICS):
                try:
                    bd.rates[metric][codec] = bd_rate([r.bpp for r in a], [getattr(r, metric) for r in a],
                                                      [r.bpp for r in rows], [getattr(r, metric) for r in rows])
                except ValueError:
                    bd.rates[metric][codec] = float("nan")
                    bd.why_none[codec] = (f"{len(rows)} setting{'s' if len(rows) != 1 else ''} (a BD-rate "
                                          "needs 4 per curve)")
                if math.isnan(bd.rates[metric][codec]) and codec not in bd.why_none:
                    bd.why_none[codec] = f"its curve and {anchor}'s do not overlap in quality"
    return Summary(curves, bd)


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
    from ..registry import list_codecs

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


def bd_table(summary: Summary) -> str:
    bd = summary.bd_rate
    w = max([len("codec"), *map(len, bd[BD_METRICS[0].name])]) + 2
    head = "".join(f"{m.label:>10}" for m in BD_METRICS)
    lines = [f"BD-rate vs {bd.anchor} (negative = fewer bits)", f"{'codec':<{w}}{head}"]
    for codec in bd[BD_METRICS[0].name]:
        cells = "".join(f"{'n/a':>10}" if math.isnan(bd[m.name][codec]) else f"{bd[m.name][codec]:>9.1f}%"
                        for m in BD_METRICS)
        why = bd.why_none.get(codec)
        lines.append(f"{codec:<{w}}{cells}" + (f"  ({why})" if why else ""))
    return "\n".join(lines)
