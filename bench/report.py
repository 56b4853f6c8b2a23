"""Markdown tables for the README from a benchmark folder: learned codecs per quality, BD-rates.

    python bench/report.py bench/results/kodak
"""
import json
import sys
from pathlib import Path

from aecodec.eval.baselines import BASELINES

res = json.loads((Path(sys.argv[1]) / "results.json").read_text())
print(f"Dataset `{res['dataset']}`, {len(res['images'])} images; bpp from real file bytes, PSNR and MS-SSIM on RGB,"
      " means over images; times are medians per image.\n")
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
