"""Re-measure a benchmark's learned-codec numbers independently, through the public API and plain numpy.

    python bench/verify.py DIR    # DIR from `aecodec bench ... --out DIR`, e.g. bench/results/kodak

Why: the benchmark's own numbers go through its worker processes and cache; this checks them by another route.
Passes (exit 0) when every quality's mean bpp is within 1% and mean PSNR within 0.05 dB of results.json.
"""
import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import aecodec
from aecodec.datasets import resolve_images


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bench", type=Path, help="folder of `aecodec bench ... --out DIR` (holds results.json)")
    a = p.parse_args()
    res = json.loads((a.bench / "results.json").read_text())
    paths = {q.name: q for q in resolve_images(res["dataset"])}
    ok = True
    for codec in (c.name for c in aecodec.list_codecs("image") if c.name in res["codecs"]):
        for row in res["codecs"][codec]:
            bpps, psnrs = [], []
            for name in res["images"]:
                im = Image.open(paths[name]).convert("RGB")
                data = aecodec.encode(im, codec=codec, quality=row["quality"])
                x = np.asarray(im, dtype=np.float64)
                y = np.asarray(aecodec.decode(data).convert("RGB"), dtype=np.float64)
                bpps.append(len(data) * 8 / (im.width * im.height))
                psnrs.append(10 * math.log10(255**2 / np.mean((x - y) ** 2)))
            dbpp = abs(np.mean(bpps) / row["bpp"] - 1)
            dpsnr = abs(np.mean(psnrs) - row["psnr"])
            good = dbpp <= 0.01 and dpsnr <= 0.05
            ok &= good
            print(f"{codec} q{row['quality']:g}: bpp {np.mean(bpps):.4f} vs {row['bpp']:.4f} ({100 * dbpp:.3f}%), "
                  f"PSNR {np.mean(psnrs):.3f} vs {row['psnr']:.3f} ({dpsnr:.4f} dB) {'ok' if good else 'MISMATCH'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
