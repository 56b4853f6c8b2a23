"""Peak memory (and time) of encoding and decoding a large photo, each in a fresh process.

    python bench/memory.py --megapixels 12 [--quality 6] [--out bench/results/memory_12mp.json]
    python bench/memory.py --size 1536x1536      (any width x height: squares, strips, 12000x8400)

Why: large images are tiled and synthesized in windows so that memory stays bounded; this is the check. The
test image is a mosaic of the Kodak images (or of tests/data/sample.png when Kodak is absent), so it has photo
statistics at any size. ``mosaic`` and ``photo_args`` are shared with ``bench/seams.py``.
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from aecodec.tiling import TILE_ABOVE

ROOT = Path(__file__).resolve().parent.parent
KODAK = ROOT.parent / "shared" / "datasets" / "kodak"


def photo_args(description: str, megapixels: float) -> tuple[argparse.Namespace, int, int]:
    """Parse --megapixels and --quality; return them with a 4:3 width and height of that many pixels."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--megapixels", type=float, default=megapixels)
    p.add_argument("--quality", type=float, default=6)
    p.add_argument("--size", help="WIDTHxHEIGHT instead of a 4:3 image of --megapixels")
    p.add_argument("--out", help="also write the JSON report here")
    a = p.parse_args()
    if a.size:
        width, height = map(int, a.size.lower().split("x"))
        return a, width, height
    width = int((a.megapixels * 1e6 * 4 / 3) ** 0.5)
    return a, width, int(a.megapixels * 1e6 / width)


def mosaic(width: int, height: int, offset: tuple[int, int] = (0, 0)) -> Image.Image:
    """Kodak photos (768x512) side by side; ``offset`` (x, y) shifts the grid, so that the photos' own edges
    can be kept away from the codec's tile edges."""
    tiles = sorted(KODAK.glob("*.png")) or [ROOT / "tests" / "data" / "sample.png"]
    ox, oy = offset
    big = np.zeros((height + 512, width + 768, 3), np.uint8)
    i = 0
    for top in range(0, height + 512, 512):
        for left in range(0, width + 768, 768):
            t = np.asarray(Image.open(tiles[i % len(tiles)]).convert("RGB").resize((768, 512)))
            h, w = min(512, big.shape[0] - top), min(768, big.shape[1] - left)
            big[top:top + h, left:left + w] = t[:h, :w]
            i += 1
    return Image.fromarray(big[oy:oy + height, ox:ox + width].copy())


STEP = """
import re, resource, sys, time, aecodec
from pathlib import Path
t = time.perf_counter()
if sys.argv[1] == "encode":
    Path(sys.argv[3]).write_bytes(aecodec.encode(sys.argv[2], quality=float(sys.argv[4])))
else:
    aecodec.decode(Path(sys.argv[2]).read_bytes()).save(sys.argv[3])
try:  # the process's own high-water mark: Linux's ru_maxrss keeps the forking parent's peak across exec
    peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) / 1024
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(time.perf_counter() - t, peak)
"""


def seam_ratios(decoded: Path, original: Path) -> list[dict]:
    """bench/seams.py's boundary errors of a tiled decode (loaded by path: this runs from any folder)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_seams", Path(__file__).resolve().with_name("seams.py"))
    seams = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seams)
    out, ref = np.asarray(Image.open(decoded).convert("RGB")), np.asarray(Image.open(original).convert("RGB"))
    return seams.boundaries(out, ref, 1024)


def main() -> None:
    a, width, height = photo_args(__doc__, 12)
    with tempfile.TemporaryDirectory() as d:
        src, aec, dec = Path(d) / "big.png", Path(d) / "big.aec", Path(d) / "big.out.png"
        mosaic(width, height, (384, 256)).save(src, compress_level=1)  # photo edges off the tile edges
        report = {"width": width, "height": height}
        for step, args in (("encode", [src, aec, a.quality]), ("decode", [aec, dec, 0])):
            out = subprocess.run([sys.executable, "-c", STEP, step, *map(str, args)], check=True,
                                 capture_output=True, text=True).stdout.split()
            report[f"{step}_s"], report[f"{step}_peak_rss_mb"] = float(out[-2]), float(out[-1])
        report["bytes"] = aec.stat().st_size
        if width * height > TILE_ABOVE:  # tiled: the error at the tile boundaries over the median (bar 1.3)
            ratios = [b["ratio"] for b in seam_ratios(dec, src)]
            report["seam_ratio_max"], report["seam_ratio_median"] = max(ratios), float(np.median(ratios))
    print(json.dumps(report, indent=1))
    if a.out:
        Path(a.out).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
