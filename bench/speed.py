"""Encode/decode speed of the learned codecs, side by side with CompressAI's own model of the same size.

    python bench/speed.py [--image PATH] [--repeats 5] [--out bench/results/speed.json]

Times the public API (aecodec.encode / aecodec.decode) and CompressAI's MeanScaleHyperprior(N, M) with random
weights (compress / decompress after update()), at 1 and 2 threads, and on CUDA when present. Reports median
seconds, seconds per megapixel and the peak memory of one encode+decode process; the ratio column is aecodec /
CompressAI (below 1 = aecodec faster); ``native_*`` are the same codec on PyTorch's native kernels (the fallback
where oneDNN is missing, and every codec's path before the oneDNN forward path), timed in the same run.

``synthesis_s`` and ``compressai_synthesis_s`` time the synthesis transform alone (the same layers and
multiply-adds in both) on the image's latent shape; ``synthesis_dec_ratio`` = ``synthesis_s`` /
``compressai_dec_s`` is the decode ratio aecodec would reach if every other stage cost nothing: a floor that
faster parsing or post-processing cannot go below.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from PIL import Image

import aecodec
from aecodec.codecs import inference
from aecodec.image import pad_to, split_image

KODIM = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "kodak" / "kodim05.png"


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def peak_rss_mb(name: str, image: Path, device: str, threads: int) -> float:
    """Peak resident memory (MB) of a fresh process that encodes and decodes ``image`` once."""
    code = ("import resource, sys, torch, aecodec; torch.set_num_threads(int(sys.argv[4])); "
            "aecodec.decode(aecodec.encode(sys.argv[1], codec=sys.argv[2], device=sys.argv[3]), device=sys.argv[3]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", code, str(image), name, device, str(threads)], check=True,
                         capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


@contextlib.contextmanager
def native_kernels():
    """Run the codecs' fallback: PyTorch's native kernels instead of aecodec.codecs.inference's oneDNN path."""
    before = inference.available
    inference.available = lambda device: False
    try:
        yield
    finally:
        inference.available = before


def compressai_times(name: str, x: torch.Tensor, device: str, repeats: int) -> tuple[float, float, float]:
    """CompressAI's MeanScaleHyperprior of the codec's N, M: (encode, decode, synthesis alone) seconds."""
    from compressai.models import MeanScaleHyperprior

    cfg = aecodec.load(name).model.config
    net = MeanScaleHyperprior(cfg.N, cfg.M).eval().to(device)
    net.update(force=True)
    xp = pad_to(x, 64).to(device)
    with torch.no_grad():
        out = net.compress(xp)
        enc = median_time(lambda: net.compress(xp), repeats)
        dec = median_time(lambda: net.decompress(out["strings"], out["shape"]), repeats)
        y = torch.round(net.g_a(xp))
        syn = median_time(lambda: net.g_s(y), repeats)
    return enc, dec, syn


def synthesis_time(name: str, x: torch.Tensor, device: str, repeats: int) -> float:
    """Seconds of the codec's own synthesis (the decoder's path) on the latents of ``x``."""
    codec = aecodec.load(name, device)
    q16 = 16 * aecodec.get_codec(name).default_quality
    _, y, _, g = codec.analyze(pad_to(x, codec.stride), q16)
    y_g = torch.round(y.cpu().to(torch.float64) * g)
    return median_time(lambda: codec.synthesis(y_g, q16), repeats)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", type=Path, default=KODIM)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path)
    p.add_argument("--codecs", help="comma list of registered image codecs [all with shipped weights]")
    a = p.parse_args()
    im = Image.open(a.image).convert("RGB")
    mp = im.width * im.height / 1e6
    x, _, _ = split_image(im)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    names = a.codecs.split(",") if a.codecs else [c.name for c in aecodec.list_codecs("image") if c.weights]
    for c in map(aecodec.get_codec, names):
        for device in devices:
            for threads in ([1, 2] if device == "cpu" else [torch.get_num_threads()]):
                torch.set_num_threads(threads)
                data = aecodec.encode(im, codec=c.name, device=device)
                enc = median_time(lambda: aecodec.encode(im, codec=c.name, device=device), a.repeats)
                dec = median_time(lambda: aecodec.decode(data, device=device), a.repeats)
                ref_enc, ref_dec, ref_syn = compressai_times(c.name, x, device, a.repeats)
                syn = synthesis_time(c.name, x, device, a.repeats)
                with native_kernels():  # the path without oneDNN (and the codecs' only path before session 7)
                    enc_native = median_time(lambda: aecodec.encode(im, codec=c.name, device=device), a.repeats)
                    dec_native = median_time(lambda: aecodec.decode(data, device=device), a.repeats)
                rows.append({"codec": c.name, "device": device, "threads": threads, "megapixels": mp,
                             "enc_s": enc, "dec_s": dec, "enc_s_per_mp": enc / mp, "dec_s_per_mp": dec / mp,
                             "compressai_enc_s": ref_enc, "compressai_dec_s": ref_dec,
                             "enc_ratio": enc / ref_enc, "dec_ratio": dec / ref_dec,
                             "native_enc_s": enc_native, "native_dec_s": dec_native,
                             "synthesis_s": syn, "compressai_synthesis_s": ref_syn,
                             "synthesis_dec_ratio": syn / ref_dec,
                             "peak_rss_mb": peak_rss_mb(c.name, a.image, device, threads)})
                r = rows[-1]
                print(f"{c.name:<18}{device:<5}{threads:>2} thr  enc {enc:.3f}s ({r['enc_s_per_mp']:.2f} s/MP, "
                      f"x{r['enc_ratio']:.2f} CompressAI)  dec {dec:.3f}s ({r['dec_s_per_mp']:.2f} s/MP, "
                      f"x{r['dec_ratio']:.2f} CompressAI)  synthesis {syn:.3f}s (CompressAI {ref_syn:.3f}s, "
                      f"x{r['synthesis_dec_ratio']:.2f} of its decode)  native enc {enc_native:.3f}s dec {dec_native:.3f}s  "
                      f"peak {r['peak_rss_mb']:.0f} MB", flush=True)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps({"image": a.image.name, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
