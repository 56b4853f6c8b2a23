"""Markdown tables from a benchmark folder: the learned codecs per quality, and the BD-rates.

    python bench/report.py bench/results/kodak

Why: the tables in README.md and docs/results.md are printed from the committed ``results.json`` of a run of
``aecodec bench``, not typed by hand.
"""
import argparse
import json
from pathlib import Path

from aecodec.eval.baselines import BASELINES


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bench", type=Path, help="folder of `aecodec bench ... --out DIR` (holds results.json)")
    a = p.parse_args()
    res = json.loads((a.bench / "results.json").read_text())
    print(f"Dataset `{res['dataset']}`, {len(res['images'])} images; bpp from real file bytes, PSNR and MS-SSIM on"
          " RGB, means over images; times are medians per image.\n")
    for name, rows in res["codecs"].items():
        if name in BASELINES:
            continue
        print(f"| {name} quality | bpp | PSNR (dB) | MS-SSIM | encode (s) | decode (s) |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['quality']:g} | {r['bpp']:.3f} | {r['psnr']:.2f} | {r['ms_ssim']:.4f} | {r['enc_s']:.2f} |"
                  f" {r['dec_s']:.2f} |")
        print()
    bd = res["bd_rate"]
    print(f"| BD-rate vs {bd['anchor']} (negative = smaller files) | PSNR | MS-SSIM |")
    print("|---|---|---|")
    for name in bd["psnr"]:
        print(f"| {name} | {bd['psnr'][name]:+.1f}% | {bd['ms_ssim'][name]:+.1f}% |")


if __name__ == "__main__":
    main()
