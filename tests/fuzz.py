"""Seeded fuzzing of ``aecodec.decode`` with hostile bitstreams (``tests/test_fuzz.py`` runs a few hundred cases).

The long run, from the repository root (``--out`` alone writes ``bench/results/fuzz.json``):

    python -m tests.fuzz --cases 10000 --seed 0 [--out [PATH]]

Mutations of real .aec files: truncations, bit flips, splices of two files, random bytes, and header or payload
changes with the CRC recomputed (so they reach the parser and the entropy decoder). Every case must end in an
``aecodec.AecError`` within ``--limit`` seconds, or decode to exactly the original pixels (a no-op change).
Anything else is a failure, printed with its seed so it can be replayed.
"""
from __future__ import annotations

import argparse
import json
import random
import struct
import time
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

import aecodec

HEADER = 32
RESULT = Path(__file__).resolve().parent.parent / "bench" / "results" / "fuzz.json"


def corpus() -> list[bytes]:
    """Small real files: RGB, gray with odd size, RGBA, three qualities, and the vqvae codec."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:80]
    base = np.stack([(xx * 3 + yy) % 256, (yy * 2) % 256, (xx + yy * 5) % 256], -1).astype(float)
    rgb = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
    from PIL import Image

    im = Image.fromarray(rgb)
    rgba = im.convert("RGBA")
    rgba.putalpha(Image.fromarray(rgb[:, :, 0]))
    return [aecodec.encode(im, quality=2), aecodec.encode(im.convert("L").crop((0, 0, 37, 21)), quality=7),
            aecodec.encode(rgba, quality=5), aecodec.encode(im, codec="vqvae", quality=3)]


def fix_crc(b: bytearray) -> bytes:
    b[-4:] = struct.pack(">I", zlib.crc32(bytes(b[:-4])))
    return bytes(b)


def mutate(rng: random.Random, data: bytes, other: bytes) -> tuple[str, bytes]:
    kind = rng.choice(["truncate", "bitflip", "splice", "random", "header_crc", "payload_crc"])
    b = bytearray(data)
    if kind == "truncate":
        return kind, data[: rng.randrange(len(data))]
    if kind == "bitflip":
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        return kind, bytes(b)
    if kind == "splice":
        return kind, data[: rng.randrange(len(data))] + other[rng.randrange(len(other)):]
    if kind == "random":
        n = rng.randrange(200)
        body = bytes(rng.randrange(256) for _ in range(n))
        return kind, (data[:4] + body) if rng.random() < 0.5 else body
    if kind == "header_crc":
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(4, HEADER)] = rng.randrange(256)
        return kind, fix_crc(b)
    for _ in range(rng.randint(1, 16)):  # payload_crc
        i = rng.randrange(HEADER, len(b) - 4)
        b[i] ^= 1 << rng.randrange(8)
    return kind, fix_crc(b)


def run(cases: int, seed: int, limit: float) -> dict:
    files = corpus()
    originals = [np.asarray(aecodec.decode(f)) for f in files]
    counts: Counter = Counter()
    failures, slowest = [], 0.0
    for case in range(cases):
        rng = random.Random(seed * 1_000_003 + case)
        k = rng.randrange(len(files))
        kind, bad = mutate(rng, files[k], files[(k + 1) % len(files)])
        t = time.perf_counter()
        # a splice can rebuild another corpus file byte for byte: then that file's image is the right answer
        expect = originals[files.index(bad)] if bad in files else originals[k]
        try:
            out = np.asarray(aecodec.decode(bad))
            outcome = "identical" if out.shape == expect.shape and np.array_equal(out, expect) \
                else "decoded_differently"
        except aecodec.AecError:
            outcome = "aec_error"
        except Exception as e:  # noqa: BLE001 - the point is to find these
            outcome = f"crash:{type(e).__name__}"
        dt = time.perf_counter() - t
        slowest = max(slowest, dt)
        if dt > limit:
            outcome = "slow"
        counts[f"{kind}:{outcome}"] += 1
        if outcome not in ("aec_error", "identical"):
            failures.append({"case": case, "seed": seed, "kind": kind, "outcome": outcome, "seconds": dt})
    return {"cases": cases, "seed": seed, "counts": dict(sorted(counts.items())), "failures": failures,
            "slowest_s": slowest}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=float, default=10.0)
    p.add_argument("--out", type=Path, nargs="?", const=RESULT,
                   help=f"write the JSON report here (no value: {RESULT.relative_to(RESULT.parents[2])})")
    a = p.parse_args()
    report = run(a.cases, a.seed, a.limit)
    print(json.dumps({k: v for k, v in report.items() if k != "failures"}, indent=1))
    print(f"failures: {len(report['failures'])}")
    for f in report["failures"][:20]:
        print(f)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(report, indent=1) + "\n")
    raise SystemExit(1 if report["failures"] else 0)


if __name__ == "__main__":
    main()
