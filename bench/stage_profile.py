"""Per-stage time of decode and encode through the public API: where a codec's seconds go.

    python bench/stage_profile.py [--codec NAME] [--image PATH] [--threads 2] [--repeats 5]
                                  [--out bench/results/profile.json]

Profiles the fast CPU path (``aecodec.codecs.inference``) and, in the same process, the native-kernel fallback
(``fallback`` in the JSON), so the two are compared on one machine state.

Wraps the stages of one loaded codec (the same object ``aecodec.encode``/``decode`` use) with timers, then runs
the public API ``repeats`` times after a warm-up. Stages, inclusive of what they call:

    decode: parse_hyper (z rANS + integer hyper-synthesis), parse_latent (y rANS, and for a context codec its
            second pass), context (the integer context model), synthesis (g_s), post_filter, and "rest" (container
            checks, colour, crop, what the API does around the codec)
    encode: analysis (g_a), hyper_analysis (h_a), code_hyper (z rANS + integer hyper-synthesis), code_latent
            (symbols, context, y rANS), context, rest

Reports the median seconds of each stage over the repeats and its share of the median total.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections import defaultdict
from pathlib import Path

import torch
from PIL import Image

import aecodec
from aecodec.codecs import inference

KODIM = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "kodak" / "kodim05.png"


class Timers:
    """Inclusive seconds per stage name, for one run at a time."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, name: str, fn):
        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - t
        return timed

    def hook(self, name: str, module: torch.nn.Module) -> None:
        """Time a module's forward calls (hooks: the module object stays the one the codec holds)."""
        start: list[float] = []
        module.register_forward_pre_hook(lambda *_: start.append(time.perf_counter()))
        module.register_forward_hook(lambda *_: self.__setitem(name, time.perf_counter() - start.pop()))

    def __setitem(self, name: str, dt: float) -> None:
        self.seconds[name] += dt


def instrument(codec, timers: Timers) -> None:
    """Wrap the stages of a loaded hyperprior-family codec in place. The fast path's transforms are not
    modules, so they are timed through the codec's own attributes."""
    for method in ("parse_hyper", "parse_latent", "code_hyper", "code_latent"):
        setattr(codec, method, timers.wrap(method, getattr(codec, method)))
    if hasattr(codec, "_second_pass"):
        codec._second_pass = timers.wrap("context", codec._second_pass)
    timers.hook("analysis", codec.model.g_a)
    timers.hook("hyper_analysis", codec.model.h_a)
    timers.hook("synthesis", codec.model.g_s)
    codec._fast_g_a = inference.FastSequential(codec.model.g_a)
    codec._fast_g_s = inference.FastSequential(codec.model.g_s)
    for name, attr in (("analysis", "_fast_g_a"), ("synthesis", "_fast_g_s")):
        fast = getattr(codec, attr)
        fast.__class__ = type("Timed", (type(fast),), {"__call__": timers.wrap(name, type(fast).__call__)})
    if getattr(codec, "post_filter", None) is not None:
        timers.hook("post_filter", codec.post_filter)


def profile(run, timers: Timers, stages: list[str], repeats: int) -> dict:
    run()  # warm-up
    totals, per_stage = [], defaultdict(list)
    for _ in range(repeats):
        timers.seconds.clear()
        t = time.perf_counter()
        run()
        totals.append(time.perf_counter() - t)
        top = 0.0
        for s in stages:
            per_stage[s].append(timers.seconds.get(s, 0.0))
            top += timers.seconds.get(s, 0.0) if s != "context" else 0.0  # context is inside a latent stage
        per_stage["rest"].append(totals[-1] - top)
    total = statistics.median(totals)
    out = {"total_s": round(total, 4), "stages": {}}
    for s, values in per_stage.items():
        m = statistics.median(values)
        if m > 0 or s == "rest":
            out["stages"][s] = {"s": round(m, 4), "share": round(m / total, 3)}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--codec", default=None, help="registered image codec (default: the default codec)")
    p.add_argument("--image", type=Path, default=KODIM)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    info = aecodec.get_codec(a.codec)
    codec = aecodec.load(info.name)
    timers = Timers()
    instrument(codec, timers)
    im = Image.open(a.image).convert("RGB")
    data = aecodec.encode(im, codec=info.name)
    result = {"codec": info.name, "image": a.image.name, "size": [im.width, im.height], "threads": a.threads,
              "repeats": a.repeats, "torch": torch.__version__,
              "machine": platform.processor() or platform.machine()}
    for path in ("fast", "fallback"):
        if path == "fallback":  # what runs where oneDNN is missing: native kernels for the transforms
            inference.available = lambda device: False
        result[path] = {
            "decode": profile(lambda: aecodec.decode(data), timers,
                              ["parse_hyper", "parse_latent", "context", "synthesis", "post_filter"], a.repeats),
            "encode": profile(lambda: aecodec.encode(im, codec=info.name), timers,
                              ["analysis", "hyper_analysis", "code_hyper", "code_latent", "context"], a.repeats)}
        for what in ("decode", "encode"):
            r = result[path][what]
            parts = ", ".join(f"{s} {v['s']:.3f}" for s, v in r["stages"].items())
            print(f"{info.name} {path} {what} {r['total_s']:.3f} s at {a.threads} threads: {parts}")
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
