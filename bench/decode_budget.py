"""Issue 17's decode budget, interleaved: the default codec against the default the issue started from.

    python bench/decode_budget.py [--threads 1] [--repeats 9] [--codecs hyperprior-ctx-pf3,hyperprior-ctx-pf2]

Decodes kodim05 with each codec (the fast path) and with ``hyperprior-ctx`` on PyTorch's native kernels (the
default when issue 17 was filed), alternating them every repeat, so a shared machine's slow spells hit all
alike; prints the medians and each codec's ratio to the baseline (budget: 1.25).
"""
import argparse
import statistics
import time

import torch

import aecodec
from speed import KODIM, native_kernels


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--codecs", default=aecodec.get_codec(None).name)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    files = {name: aecodec.encode(KODIM, codec=name) for name in a.codecs.split(",")}
    baseline = aecodec.encode(KODIM, codec="hyperprior-ctx")

    def decode_baseline() -> None:
        with native_kernels():
            aecodec.decode(baseline)

    runs = {name: (lambda d=data: aecodec.decode(d)) for name, data in files.items()}
    runs["hyperprior-ctx (native, issue 17's start)"] = decode_baseline
    times: dict[str, list[float]] = {name: [] for name in runs}
    for fn in runs.values():
        fn()  # warm-up
    for _ in range(a.repeats):
        for name, fn in runs.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    base = statistics.median(times["hyperprior-ctx (native, issue 17's start)"])
    for name, ts in times.items():
        m = statistics.median(ts)
        print(f"{name:45s} {a.threads} thr  decode {m:.3f} s  ratio {m / base:.2f}")


if __name__ == "__main__":
    main()
