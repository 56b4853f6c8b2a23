"""Markdown tables from a benchmark folder: the learned codecs per quality, and the BD-rates.

    python bench/report.py bench/results/kodak
    python bench/report.py bench/results/kodak --plot readme --codecs avif-pf,hyperprior-ctx-pf3,jpeg,webp,\
        jpeg2000,avif --published "mbt2018-mean,BPG 4:4:4,VTM"

``--plot STEM`` also draws STEM_psnr.png and STEM_ms_ssim.png of the chosen curves only (README's plot: the
default, its base, the classical codecs and three published anchors, not all 22 curves).

Why: the tables in README.md and docs/results.md are printed from the committed ``results.json`` of a run of
``aecodec bench``, not typed by hand.
"""
import argparse
import json
from pathlib import Path

from aecodec.eval.baselines import BASELINES
from aecodec.eval.benchmark import plot


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bench", type=Path, help="folder of `aecodec bench ... --out DIR` (holds results.json)")
    p.add_argument("--plot", metavar="STEM", help="also plot the chosen curves to STEM_psnr.png, STEM_ms_ssim.png")
    p.add_argument("--codecs", help="measured curves to plot, comma-separated [all]")
    p.add_argument("--published", help="published curves to plot (names before ' ('), comma-separated [all]")
    a = p.parse_args()
    res = json.loads((a.bench / "results.json").read_text())
    if a.plot:
        chosen = a.codecs.split(",") if a.codecs else list(res["codecs"])
        if missing := [c for c in chosen if c not in res["codecs"]]:
            p.error(f"not in {a.bench / 'results.json'}: {', '.join(missing)}")
        plot(a.bench, {c: res["codecs"][c] for c in chosen}, res["dataset"], len(res["images"]), a.plot,
             a.published.split(",") if a.published else None)
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
