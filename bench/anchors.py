"""BD-rates of the published Kodak curves (the package's, ``aecodec.eval.benchmark.PUBLISHED``) against the codecs
of one of our Kodak benchmark runs: where the shipped models stand against what their architecture reaches fully
trained.

    python bench/anchors.py bench/results/kodak [--out bench/results/kodak/anchors_bd.json]

Rows: published models (CompressAI's zoo, papers, BPG/VTM/AV1); columns: our measured codecs; cells: PSNR
BD-rate of the published curve against ours (negative = the published model needs fewer bits). Why: the gap
to the published curve of the same architecture is what more training could still buy.
"""
import argparse
import json
import math
from pathlib import Path

from aecodec.eval.benchmark import PUBLISHED
from aecodec.eval.metrics import bd_rate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bench", type=Path)
    p.add_argument("--anchors", type=Path, default=PUBLISHED)
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    ours = json.loads((a.bench / "results.json").read_text())["codecs"]
    published = json.loads(a.anchors.read_text())["curves"]
    table = {}
    for name, curve in published.items():
        if "psnr_rgb" not in curve or "MS-SSIM" in name:
            continue
        table[name] = {}
        for codec, rows in ours.items():
            try:
                v = bd_rate([r["bpp"] for r in rows], [r["psnr"] for r in rows], curve["bpp"], curve["psnr_rgb"])
            except ValueError:
                v = math.nan
            table[name][codec] = None if math.isnan(v) else round(v, 1)  # None: the quality ranges do not overlap
    codecs = list(ours)
    print("| published (PSNR BD-rate vs ours) | " + " | ".join(codecs) + " |")
    print("|---" * (len(codecs) + 1) + "|")
    for name, row in table.items():
        print(f"| {name} | " + " | ".join("n/a" if row[c] is None else f"{row[c]:+.1f}%" for c in codecs) + " |")
    if a.out:
        a.out.write_text(json.dumps({"anchors": str(a.anchors.name), "bench": str(a.bench), "bd_rate_psnr": table},
                                    indent=1) + "\n")


if __name__ == "__main__":
    main()
