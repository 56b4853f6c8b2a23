"""What tiling costs: the same photo mosaic coded whole and in tiles, rate and PSNR side by side.

    python bench/seams.py [--megapixels 2] [--quality 6]
"""
import json

import numpy as np

import aecodec
from aecodec.eval.metrics import psnr
from memory import mosaic, photo_args  # bench/memory.py

a, width, height = photo_args(__doc__, 2)
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
