"""Batched coding throughput (megapixels per second) and the cross-device check, for the GPU path.

    python bench/throughput.py --device cuda --batch 1,8,16 [--images 24] [--out bench/results/throughput_cuda.json]

Encodes and decodes the Kodak images (or copies of tests/data/sample.png when Kodak is absent) with
``aecodec.encode_many`` / ``decode_many`` at each batch size, after a warm-up pass, and reports the wall-clock
megapixels per second of one pass over all images (CUDA synchronised). Then it decodes every file made on
``--device`` on the CPU: parsing is integer, so each must decode (its symbol checks pass) and the pixels may differ
from the device's own decode only by float synthesis noise (max abs difference reported). Why: batching is what the
GPU path is for, and files made on one device must decode on another.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import aecodec

ROOT = Path(__file__).resolve().parent.parent
KODAK = ROOT.parent / "shared" / "datasets" / "kodak"


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device: str):
    sync(device)
    t = time.perf_counter()
    out = fn()
    sync(device)
    return out, time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch", default="1,8")
    p.add_argument("--images", type=int, default=24)
    p.add_argument("--quality", type=float, default=6)
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    paths = sorted(KODAK.glob("*.png"))[: a.images] or [ROOT / "tests" / "data" / "sample.png"] * a.images
    images = [Image.open(q).convert("RGB") for q in paths]
    mp = sum(im.width * im.height for im in images) / 1e6
    aecodec.encode_many(images[:2], quality=a.quality, device=a.device)  # warm-up: load, kernels, allocator
    report = {"device": torch.cuda.get_device_name() if a.device.startswith("cuda") else "cpu",
              "threads": torch.get_num_threads(), "images": len(images), "megapixels": round(mp, 3), "runs": []}
    files = None
    for b in (int(v) for v in a.batch.split(",")):
        files, enc_s = timed(lambda: aecodec.encode_many(images, quality=a.quality, device=a.device,
                                                         batch_size=b), a.device)
        decoded, dec_s = timed(lambda: aecodec.decode_many(files, device=a.device, batch_size=b), a.device)
        report["runs"].append({"batch": b, "encode_mp_per_s": round(mp / enc_s, 3),
                               "decode_mp_per_s": round(mp / dec_s, 3)})
        print(json.dumps(report["runs"][-1]), flush=True)
    if a.device != "cpu":
        on_device = [np.asarray(im, dtype=int) for im in aecodec.decode_many(files, device=a.device)]
        on_cpu = [np.asarray(aecodec.decode(f, device="cpu"), dtype=int) for f in files]
        report["cpu_decodes_device_files"] = True  # decode() raised otherwise: every symbol check passed
        report["max_abs_pixel_diff_device_vs_cpu"] = int(max(np.abs(x - y).max() for x, y in zip(on_device, on_cpu)))
    print(json.dumps(report, indent=1))
    if a.out:
        a.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
