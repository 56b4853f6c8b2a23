"""Tile seams: a Kodak mosaic coded whole and in 1024-pixel tiles, and the error at every tile boundary.

    python bench/seams.py [--size 2304x1436] [--quality 6] [--out bench/results/seams.json]

Why: large images are coded in tiles, and a tile edge must not show. The mosaic's photos are shifted (by 384,
256 pixels) so that their own edges stay away from the tile edges. For every internal tile boundary it reports
the mean absolute error of the two pixel columns (rows) at the boundary over the median column (row) error of
the image (the bar: at most 1.3), with the whole-image coding beside it, and the rate and PSNR that tiling costs.
"""
import importlib.util
import json
from pathlib import Path

import numpy as np

import aecodec
from aecodec.eval.metrics import psnr

# bench/memory.py's mosaic and argument parsing, loaded by path so that this runs from any folder
_spec = importlib.util.spec_from_file_location("bench_memory", Path(__file__).resolve().with_name("memory.py"))
memory = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(memory)


def boundaries(out: np.ndarray, ref: np.ndarray, tile: int) -> list[dict]:
    """Error at each internal boundary of a ``tile`` grid over the image's median column (row) error."""
    height, width = ref.shape[:2]
    err = np.abs(out.astype(float) - ref).mean(2)
    col, row = err.mean(0), err.mean(1)
    return ([{"x": b, "ratio": round(float(col[b - 1:b + 1].mean() / np.median(col)), 3)}
             for b in range(tile, width, tile)] +
            [{"y": b, "ratio": round(float(row[b - 1:b + 1].mean() / np.median(row)), 3)}
             for b in range(tile, height, tile)])


def main() -> None:
    a, width, height = memory.photo_args(__doc__, 2)
    if not a.size:
        width, height = 2304, 1436
    im = memory.mosaic(width, height, offset=(384, 256))
    ref = np.asarray(im).astype(float)
    rows = []
    for tile in (0, 1024):
        data = aecodec.encode(im, quality=a.quality, tile=tile)
        out = np.asarray(aecodec.decode(data))
        rows.append({"tile": tile, "bpp": round(8 * len(data) / (width * height), 5),
                     "psnr": round(psnr(ref.astype(np.uint8), out), 4), "boundaries": boundaries(out, ref, 1024)})
    rows[1]["psnr_cost_db"] = round(rows[0]["psnr"] - rows[1]["psnr"], 4)
    rows[1]["rate_cost_pct"] = round(100 * (rows[1]["bpp"] / rows[0]["bpp"] - 1), 3)
    result = {"width": width, "height": height, "quality": a.quality, "codec": aecodec.get_codec(None).name,
              "rows": rows, "max_ratio_tiled": max(b["ratio"] for b in rows[1]["boundaries"])}
    print(json.dumps(result, indent=1))
    if a.out:
        Path(a.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
