"""What tiling costs: the same photo mosaic coded whole and in tiles, rate and PSNR side by side.

    python bench/seams.py [--megapixels 2] [--quality 6]
"""
import argparse
import json

import numpy as np

import aecodec
from aecodec.metrics import psnr
from memory import mosaic  # bench/memory.py

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--megapixels", type=float, default=2)
p.add_argument("--quality", type=float, default=6)
a = p.parse_args()
width = int((a.megapixels * 1e6 * 4 / 3) ** 0.5)
height = int(a.megapixels * 1e6 / width)
im = mosaic(width, height)
ref = np.asarray(im)
rows = []
for tile in (0, 1024, 512):
    data = aecodec.encode(im, quality=a.quality, tile=tile)
    rows.append({"tile": tile, "bpp": 8 * len(data) / (width * height),
                 "psnr": psnr(ref, np.asarray(aecodec.decode(data)))})
for r in rows[1:]:
    r["psnr_cost_db"] = rows[0]["psnr"] - r["psnr"]
    r["rate_cost_pct"] = 100 * (r["bpp"] / rows[0]["bpp"] - 1)
print(json.dumps({"width": width, "height": height, "quality": a.quality, "rows": rows}, indent=1))
