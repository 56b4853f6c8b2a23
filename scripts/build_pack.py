"""Build a compact training pack for a GPU machine (the shared datasets do not travel there).

    python scripts/build_pack.py --out .pack/pack1.npz --seed 1     # ~52 MB: one 256x256 crop per image
One random crop per training-split image (JPEG q95 4:4:4) plus two per validation-split image; Kodak is never
used. Copy the pack (and a wheel of aecodec, `.whl`) to the GPU machine and run scripts/gpu_train.sh there.
"""
import argparse
from pathlib import Path

from aecodec.datasets import resolve_images, split
from aecodec.training.crops import random_crops, save_pack

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--out", type=Path, required=True)
p.add_argument("--dataset", default="train")
p.add_argument("--size", type=int, default=256)
p.add_argument("--per-image", type=int, default=1)
p.add_argument("--seed", type=int, default=1)
a = p.parse_args()
train, val = split(resolve_images(a.dataset))
a.out.parent.mkdir(parents=True, exist_ok=True)
save_pack(a.out, random_crops(train, a.size, a.per_image, a.seed), random_crops(val, a.size, 2, 100))
print(f"{a.out}: {len(train)} train and {len(val)} validation images, {a.out.stat().st_size / 1e6:.1f} MB")
