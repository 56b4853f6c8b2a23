"""The benchmark as one call: ``run(BenchConfig) -> BenchResult``, what ``aecodec bench`` does, for Python users
too: codecs and anchor checked before any coding, the images of a dataset's split, every point measured (cached),
``results.json``, ``per_image.csv``, the plots and the compare page written."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..datasets import resolve_images, split
from ..errors import AecError
from ..files import check_folder
from . import benchmark, compare
from .benchmark import Point, Summary
from .metrics import BD_METRICS


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
        return benchmark.bd_table(self.summary)


def run(config: BenchConfig, notice: Callable[[str], None] = lambda message: None) -> BenchResult:
    """Run the benchmark ``config`` describes; ``notice`` hears of skipped codecs before the long part starts."""
    if config.split not in ("all", "train", "validation"):
        raise AecError(f"split must be all, train or validation, not {config.split!r}")
    names, skipped = benchmark.resolve_codecs(config.codecs, config.anchor)
    for n in skipped:
        notice(f"{n} skipped ({benchmark.OPTIONAL[n]})")
    out = Path(config.out)
    check_folder(out, create=True)
    images = resolve_images(config.dataset)
    if config.split != "all":
        images = sorted(split(images)[config.split == "validation"])
        if not images:
            raise AecError(f"{config.dataset} has no {config.split} images")
    images = images[:config.limit] if config.limit else images
    points = benchmark.run_points(images, names, out, config.jobs)
    summary = benchmark.summarize(points, config.anchor)
    name = Path(config.dataset).name if Path(config.dataset).is_dir() else config.dataset
    benchmark.write_outputs(out, name if config.split == "all" else f"{name} ({config.split} split)", images,
                            points, summary)
    written = [out / "results.json", out / "per_image.csv", *(out / f"rd_{m.name}.png" for m in BD_METRICS)]
    if config.page_images:
        written.append(compare.write_page(out, images[:config.page_images], names, points, summary,
                                          config.page_bpp))
    return BenchResult(names, skipped, images, points, summary, written)
