"""A benchmark's results, typed: each codec's curve (means per setting) and the BD-rates against an anchor;
``results.json`` holds ``Summary.to_json``."""
from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass

from .metrics import BD_METRICS, METRICS, bd_rate


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


def summarize(points: list, anchor: str = "jpeg") -> Summary:
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
