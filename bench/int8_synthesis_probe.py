"""Probe: is an int8 synthesis faster than the shipped float one on this CPU?

    python bench/int8_synthesis_probe.py [--threads 2] [--repeats 7] [--out FILE.json]

Post-training static quantization (torch.ao eager mode, x86 engine, calibrated on the one latent it times) of
``hyperprior-ctx``'s synthesis on kodim05 at quality 6, in two forms: the transposed convolutions as they are
(per-tensor weights: PyTorch has no per-channel transposed convolution), and their sub-pixel form (a 3x3
convolution and ``pixel_shuffle``, per-channel weights, the shape the shipped fast path runs). Each is timed with
the inverse GDNs kept in float (dequantised around them) and without them (a bound: GDN for free), interleaved
with the shipped float synthesis, medians of ``--repeats``. PSNR is against the original photo: a speed probe,
the RD of a quantization-aware fine-tune is not measured here.
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.ao.quantization as tq
from PIL import Image
from torch import nn

import aecodec
from aecodec.codecs.inference import subpixel_weight

KODIM05 = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "kodak" / "kodim05.png"


def subpixel(seq: nn.Sequential) -> nn.Sequential:
    """Each 5x5 stride-2 transposed convolution as a 3x3 convolution with 4x the outputs and a pixel shuffle."""
    out: list[nn.Module] = []
    for m in seq:
        if isinstance(m, nn.ConvTranspose2d):
            c = nn.Conv2d(m.in_channels, 4 * m.out_channels, 3, padding=1)
            w, b = subpixel_weight(m)
            c.weight.data, c.bias.data = w.contiguous(), b
            out += [c, nn.PixelShuffle(2)]
        else:
            out.append(m)
    return nn.Sequential(*out).eval()


def quantized(seq: nn.Sequential, latents: torch.Tensor, keep_gdn: bool) -> nn.Module:
    """``seq`` with every convolution in int8 (quantised before it, dequantised after it or its pixel shuffle);
    the other layers stay float, or are dropped when not ``keep_gdn``."""
    mods: list[nn.Module] = []
    for m in copy.deepcopy(seq):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            mods += [tq.QuantStub(), m] + ([tq.DeQuantStub()] if isinstance(m, nn.ConvTranspose2d) else [])
        elif isinstance(m, nn.PixelShuffle):
            mods += [m, tq.DeQuantStub()]
        elif keep_gdn:
            mods.append(m)
    net = nn.Sequential(*mods).eval()
    per_tensor = tq.QConfig(activation=tq.MinMaxObserver.with_args(reduce_range=True),
                            weight=tq.default_weight_observer)
    net.qconfig = per_tensor if any(isinstance(m, nn.ConvTranspose2d) for m in net) else \
        tq.get_default_qconfig("x86")
    prepared = tq.prepare(net)
    with torch.no_grad():
        prepared(latents)
    return tq.convert(prepared)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.backends.quantized.engine = "x86"
    base = aecodec.load("hyperprior-ctx")
    x = torch.from_numpy(np.asarray(Image.open(KODIM05).convert("RGB")).copy()).permute(2, 0, 1)[None] / 255
    with torch.no_grad():
        latents = base.latents.to_synthesis(base.latents.quantized(base.transforms.analyze(x), 96), 96, base.device)
    g_s, sub = base.transforms.g_s.eval(), subpixel(base.transforms.g_s)
    runs = {
        "float synthesis (shipped fast path)": lambda: base.synthesize(latents, 96),
        "int8 transposed convs + float GDN": quantized(g_s, latents, True),
        "int8 transposed convs, no GDN (bound)": quantized(g_s, latents, False),
        "int8 sub-pixel convs + float GDN": quantized(sub, latents, True),
        "int8 sub-pixel convs, no GDN (bound)": quantized(sub, latents, False),
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    with torch.no_grad():
        for f in runs.values():
            f() if not isinstance(f, nn.Module) else f(latents)
        for _ in range(a.repeats):
            for k, f in runs.items():
                t = time.perf_counter()
                f() if not isinstance(f, nn.Module) else f(latents)
                times[k].append(time.perf_counter() - t)

        def psnr(y: torch.Tensor) -> float:
            return round(float(-10 * torch.log10((y.clamp(0, 1) - x).pow(2).mean())), 3)
        quality = {"float synthesis": psnr(base.synthesize(latents, 96)),
                   "int8 transposed convs + float GDN (PTQ)": psnr(runs["int8 transposed convs + float GDN"](latents)),
                   "int8 sub-pixel convs + float GDN (PTQ)": psnr(runs["int8 sub-pixel convs + float GDN"](latents))}
    med = {k: round(statistics.median(v), 4) for k, v in times.items()}
    ref = med["float synthesis (shipped fast path)"]
    result = {"question": "is an int8 synthesis faster than the shipped float one on this CPU?",
              "machine": f"{platform.processor() or platform.machine()}, {a.threads} threads, torch "
                         f"{torch.__version__}, quantized engine x86 (fbgemm)",
              "image": "kodim05 at quality 6, synthesis stage only", "repeats": a.repeats,
              "median_seconds": med, "vs_float": {k: round(v / ref, 2) for k, v in med.items()},
              "psnr_db": quality}
    print(json.dumps(result, indent=1))
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
