"""Encode/decode speed of the learned codecs, side by side with CompressAI's own model of the same size.

    python bench/speed.py [--image PATH] [--codecs A,B] [--threads 1,2] [--repeats 5] [--baseline NAME]
                          [--out bench/results/speed.json]

Why: decode time is a budget the codecs are held to, and the host is a shared, noisy machine. So every timing
of one setting (device, thread count) is interleaved: each repeat runs every codec's encode and decode, their
native-kernel runs, their synthesis and CompressAI's encode, decode and synthesis once, in turn, so the host's
slow spells hit all of them alike; the reported numbers are the medians over the repeats, after one warm-up.

Times the public API (aecodec.encode / aecodec.decode) and CompressAI's MeanScaleHyperprior(N, M) with random
weights (compress / decompress after update()), at each ``--threads`` count, and on CUDA when present. Reports
median seconds, seconds per megapixel and the peak memory of one encode+decode process; the ratio columns are
aecodec / CompressAI (below 1 = aecodec faster); ``native_*`` are the same codec on PyTorch's native kernels
(the fallback where oneDNN is missing, and every codec's path before the oneDNN forward path).
``--baseline NAME`` adds ``dec_vs_baseline_native`` = ``dec_s`` / NAME's ``native_dec_s`` (NAME is timed too):
a decode budget stated against an earlier default on the native kernels.

``synthesis_s`` and ``compressai_synthesis_s`` time the synthesis transform alone (the same layers and
multiply-adds in both) on the image's decoded latents; ``synthesis_dec_ratio`` = ``synthesis_s`` /
``compressai_dec_s`` is the decode ratio aecodec would reach if every other stage cost nothing: a floor that
faster parsing or post-processing cannot go below (null for codecs without a separate synthesis stage).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

import aecodec

KODIM = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "kodak" / "kodim05.png"


# -- The only codec internals this script touches ----------------------------------------------------------
def native(codec):
    """The loaded codec with its transforms on PyTorch's native kernels instead of oneDNN's forward path."""
    return codec.with_transforms(codec.transforms.native())


def synthesis_alone(codec):
    """The codec's synthesis transform without post-filter and clamping: synthesis-ready latents -> pixels."""
    return lambda latents, q16: codec.transforms.synthesize(latents)
# ------------------------------------------------------------------------------------------------------------


def interleaved_medians(runs: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each callable in ``runs``: one warm-up each, then ``repeats`` rounds that call every
    one of them once, in turn."""
    for fn in runs.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) for name, ts in times.items()}


PEAK_RSS = """
import re, resource, sys, torch, aecodec
torch.set_num_threads(int(sys.argv[4]))
aecodec.decode(aecodec.encode(sys.argv[1], codec=sys.argv[2], device=sys.argv[3]), device=sys.argv[3])
try:  # the process's own high-water mark: Linux's ru_maxrss keeps the forking parent's peak across exec
    print(int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) / 1024)
except OSError:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def peak_rss_mb(name: str, image: Path, device: str, threads: int) -> float:
    """Peak resident memory (MB) of a fresh process that encodes and decodes ``image`` once."""
    code = PEAK_RSS
    out = subprocess.run([sys.executable, "-c", code, str(image), name, device, str(threads)], check=True,
                         capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def padded(x: torch.Tensor, stride: int) -> torch.Tensor:
    """Replicate-pad [1, 3, H, W] on the right and bottom to multiples of ``stride`` (as the API pads)."""
    h, w = x.shape[-2:]
    return F.pad(x, (0, -w % stride, 0, -h % stride), mode="replicate")


def compressai_runs(cfg, x: torch.Tensor, device: str) -> dict:
    """CompressAI's MeanScaleHyperprior of the codec's N, M: encode, decode and synthesis-alone callables."""
    from compressai.models import MeanScaleHyperprior

    net = MeanScaleHyperprior(cfg.N, cfg.M).eval().to(device)
    net.update(force=True)
    xp = padded(x, 64).to(device)
    with torch.no_grad():
        out = net.compress(xp)
        y = torch.round(net.g_a(xp))

    def no_grad(fn):
        def run():
            with torch.no_grad():
                fn()
        return run

    return {"enc": no_grad(lambda: net.compress(xp)),
            "dec": no_grad(lambda: net.decompress(out["strings"], out["shape"])),
            "syn": no_grad(lambda: net.g_s(y))}


def codec_runs(name: str, im: Image.Image, x: torch.Tensor, device: str) -> dict:
    """The callables timed for one aecodec codec: public-API encode and decode, the codec's own encode and
    decode (the contract: no container or image conversion) on the native kernels, and the synthesis alone on
    the image's decoded latents."""
    data = aecodec.encode(im, codec=name, device=device)
    codec = aecodec.load(name, device)
    slow = native(codec)
    q16 = round(16 * aecodec.get_codec(name).default_quality)
    xp = padded(x, codec.stride).to(device)
    h, w = xp.shape[-2:]
    items = codec.compress_batch(xp, q16)
    latents = codec.decode_latents(items, h, w, q16)
    synthesis = synthesis_alone(codec)
    return {"enc": lambda: aecodec.encode(im, codec=name, device=device),
            "dec": lambda: aecodec.decode(data, device=device),
            "native_enc": lambda: slow.compress_batch(xp, q16),
            "native_dec": lambda: slow.decompress_batch(items, h, w, q16),
            "syn": lambda: synthesis(latents, q16)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", type=Path, default=KODIM)
    p.add_argument("--repeats", type=int, default=5, help="interleaved rounds after the warm-up [5]")
    p.add_argument("--threads", default="1,2", help="comma list of CPU thread counts [1,2]")
    p.add_argument("--codecs", help="comma list of registered image codecs [all with shipped weights]")
    p.add_argument("--baseline", help="also time this codec and give every decode against its native decode")
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    im = Image.open(a.image).convert("RGB")
    mp = im.width * im.height / 1e6
    x = torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)[None].float() / 255
    names = a.codecs.split(",") if a.codecs else [c.name for c in aecodec.list_codecs("image") if c.weights]
    if a.baseline and a.baseline not in names:
        names.append(a.baseline)
    names = [aecodec.get_codec(n).name for n in names]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        for threads in ([int(t) for t in a.threads.split(",")] if device == "cpu" else [torch.get_num_threads()]):
            torch.set_num_threads(threads)
            runs, ref_of = {}, {}
            for name in names:
                cfg = aecodec.load(name, device).model.config
                ref_of[name] = f"compressai {cfg.N},{cfg.M}"
                if ref_of[name] not in {k.split("/")[0] for k in runs}:
                    runs.update({f"{ref_of[name]}/{k}": fn for k, fn in compressai_runs(cfg, x, device).items()})
                runs.update({f"{name}/{k}": fn for k, fn in codec_runs(name, im, x, device).items()})
            t = interleaved_medians(runs, a.repeats)
            for name in names:
                enc, dec, ref = t[f"{name}/enc"], t[f"{name}/dec"], ref_of[name]
                syn = t.get(f"{name}/syn")
                r = {"codec": name, "device": device, "threads": threads, "megapixels": mp, "timing": "interleaved",
                     "repeats": a.repeats, "enc_s": enc, "dec_s": dec, "enc_s_per_mp": enc / mp,
                     "dec_s_per_mp": dec / mp, "compressai_enc_s": t[f"{ref}/enc"],
                     "compressai_dec_s": t[f"{ref}/dec"], "enc_ratio": enc / t[f"{ref}/enc"],
                     "dec_ratio": dec / t[f"{ref}/dec"], "native_enc_s": t[f"{name}/native_enc"],
                     "native_dec_s": t[f"{name}/native_dec"], "synthesis_s": syn,
                     "compressai_synthesis_s": t[f"{ref}/syn"],
                     "synthesis_dec_ratio": None if syn is None else syn / t[f"{ref}/dec"]}
                if a.baseline:
                    r["dec_vs_baseline_native"] = dec / t[f"{aecodec.get_codec(a.baseline).name}/native_dec"]
                r["peak_rss_mb"] = peak_rss_mb(name, a.image, device, threads)
                rows.append(r)
                syn_text = "n/a" if syn is None else f"{syn:.3f}s (x{r['synthesis_dec_ratio']:.2f} of its decode)"
                budget = f"  x{r['dec_vs_baseline_native']:.2f} {a.baseline} native" if a.baseline else ""
                print(f"{name:<20}{device:<5}{threads:>2} thr  enc {enc:.3f}s ({r['enc_s_per_mp']:.2f} s/MP, "
                      f"x{r['enc_ratio']:.2f} CompressAI)  dec {dec:.3f}s ({r['dec_s_per_mp']:.2f} s/MP, "
                      f"x{r['dec_ratio']:.2f} CompressAI){budget}  synthesis {syn_text}  native enc "
                      f"{r['native_enc_s']:.3f}s dec {r['native_dec_s']:.3f}s  peak {r['peak_rss_mb']:.0f} MB",
                      flush=True)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps({"image": a.image.name, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
