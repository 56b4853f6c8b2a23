"""Is a transform's output the same at every thread count? The question to answer before trusting a faster kernel.

    python bench/thread_invariance.py [--threads 1,2,3,4] [--out bench/results/thread_invariance.json]

Why: aecodec promises the same pixels at any thread count, and PyTorch picks kernels (and summation orders) by
size. This runs the shipped hyperprior's g_s and g_a in fresh processes at each thread count, three ways:
PyTorch's native kernels (oneDNN off: the codecs' fallback), oneDNN on channels-last tensors and weights as
PyTorch picks kernels, and ``forward`` (the codecs' fast path: oneDNN's forward convolutions only, transposed
ones as sub-pixel convolutions: what the codecs run), on random latents and images of several shapes (tiny ones
included: PyTorch sends small convolutions to other kernels) and batch sizes. It compares SHA-1 digests of the
outputs and checks that each batch's first row equals that image run alone. Identical digests at every thread
count = thread-invariant on this machine for these shapes (a different CPU may pick other kernels).
"""
import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

RESULT = Path(__file__).resolve().parent / "results" / "thread_invariance.json"
SHAPES = [(1, 16, 16), (1, 32, 96), (2, 16, 48), (1, 64, 64), (1, 320, 5008), (1, 512, 768), (3, 256, 384),
          (1, 1024, 1024), (2, 192, 64), (4, 128, 128)]
KERNELS = ("native", "onednn", "forward")


# -- The only codec internal this script touches (the codec package is being renamed: fix it here) -------------
def fast_path(seq):
    """``seq`` (an ``nn.Sequential`` of the shipped model) as the codecs run it on a CPU with oneDNN:
    ``aecodec.codecs.inference.FastSequential``."""
    from aecodec.codecs.inference import FastSequential

    return FastSequential(seq)
# ------------------------------------------------------------------------------------------------------------


def probe(threads: int, kernels: str, shapes: list) -> dict:
    """In this (fresh) process: digests of g_s and g_a outputs per shape, at ``threads`` threads."""
    import torch

    import aecodec

    torch.set_num_threads(threads)
    dnn = kernels != "native"
    torch.backends.mkldnn.enabled = dnn
    m = aecodec.load("hyperprior").model
    fmt = torch.channels_last if dnn else torch.contiguous_format
    gs, ga = m.g_s.to(memory_format=fmt), m.g_a.to(memory_format=fmt)
    if kernels == "forward":
        gs, ga = fast_path(m.g_s), fast_path(m.g_a)
    g = torch.Generator().manual_seed(0)

    def digest(t):
        return hashlib.sha1(t.numpy().tobytes()).hexdigest()[:12]

    out = {}
    with torch.no_grad():
        for b, h, w in shapes:
            y = (torch.randn(b, 256, h // 16, w // 16, generator=g) * 2).round().to(memory_format=fmt)
            x = torch.rand(b, 3, h, w, generator=g).to(memory_format=fmt)
            xs, ya = gs(y).contiguous(), ga(x).contiguous()
            out[f"{b}x{h}x{w}"] = {"g_s": digest(xs), "g_a": digest(ya),
                                   "row_equals_alone": bool(torch.equal(gs(y[:1]).contiguous(), xs[:1]))}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=RESULT)
    p.add_argument("--threads", default="1,2,3,4")
    p.add_argument("--probe", nargs=2, metavar=("THREADS", "KERNELS"), help=argparse.SUPPRESS)  # the child's job
    a = p.parse_args()
    if a.probe:
        print(json.dumps(probe(int(a.probe[0]), a.probe[1], SHAPES)))
        return
    threads = [int(t) for t in a.threads.split(",")]
    report = {}
    for kernels in KERNELS:
        runs = {t: json.loads(subprocess.run([sys.executable, str(Path(__file__).resolve()), "--probe", str(t),
                                              kernels], capture_output=True, text=True, check=True).stdout)
                for t in threads}
        shapes = {}
        for shape in runs[threads[0]]:
            shapes[shape] = {net: len({runs[t][shape][net] for t in threads}) == 1 for net in ("g_s", "g_a")}
            shapes[shape]["rows_equal_alone"] = all(runs[t][shape]["row_equals_alone"] for t in threads)
            shapes[shape]["differs_at"] = [t for t in threads
                                           if runs[t][shape]["g_s"] != runs[threads[0]][shape]["g_s"]]
        report[kernels] = {"thread_invariant": all(s["g_s"] and s["g_a"] and s["rows_equal_alone"]
                                                   for s in shapes.values()), "shapes": shapes}
        print(kernels, "thread-invariant:", report[kernels]["thread_invariant"], flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"threads": threads, **report}, indent=1) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
