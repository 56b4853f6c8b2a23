"""Coverage-guided fuzz harnesses (atheris: libFuzzer's engine for Python, as OSS-Fuzz runs it), one per surface
that reads untrusted bytes. ``tests/test_fuzz.py`` runs each for a few seconds at a fixed seed.

    python -m tests.fuzz TARGET [CORPUS_DIR] [libFuzzer flags: -runs=N -max_total_time=S -seed=N ...]
    python -m tests.fuzz campaign --seconds 900 [--out [PATH]] [--findings DIR]   # every target, JSON report

Targets (``TARGETS``): ``container`` (the container parser and ``aecodec info``), ``decode`` (``aecodec.decode``
with every check in force), ``payload`` (the same with the CRCs repaired and the symbol digests bypassed, so the
fuzzer reaches the entropy decoders, the context models and the tile logic), ``array`` (``decode_array`` with its
CRCs repaired) and ``pillow`` (``Image.open`` and ``load`` through the plugin). Each starts from real files of every
codec family (``seeds``). A finding is any exception outside the documented ``AecError`` family (for Pillow: also
its ``UnidentifiedImageError``), an input slower than ``-timeout`` seconds, or a process over ``-rss_limit_mb``;
headers declaring more than ``MAX_DECLARED_PIXELS`` (padded) are skipped (their time and memory are those of the
pixels, bounded at the CLI by --max-pixels). libFuzzer stops at the first one and writes the input to
``crash-*``/``timeout-*``/``oom-*``. Fixed findings are kept in ``tests/data/fuzz/`` and decoded by the tests.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

RESULT = Path(__file__).resolve().parent.parent / "bench" / "results" / "fuzz.json"
REGRESSIONS = Path(__file__).resolve().parent / "data" / "fuzz"
TIMEOUT_S = 5  # an input slower than this is a hang
# Decoding time and memory grow with the pixels a header declares, however small the file (as for any image
# format: the CLI bounds them with --max-pixels): larger declared images are skipped, so that a timeout or a
# memory blow-up is a finding about the code, not about a legitimately large image. Counted on the canvas the
# codecs pad to (multiples of 64 pixels): a 11045x21 strip is a 11072x64 synthesis. The bound still lets in
# strips longer than a synthesis window (1088x64), so the windowed decoder is fuzzed too.
MAX_DECLARED_PIXELS = 1 << 17
STRIDE = 64
RSS_LIMIT_MB = 3000  # the harness process with torch and every codec loaded is about 0.9-1.6 GB: +1 GB is a blow-up


def seeds() -> list[bytes]:
    """Small real files: every image codec family (hyperprior, checkerboard context, post-filter, MS-SSIM,
    vqvae), RGB/L/RGBA, odd sizes, three qualities, a tiled file (seamless tiles), exact-pixel files (flat and
    tiny images), and an array file."""
    from PIL import Image

    import aecodec

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:80]
    base = np.stack([(xx * 3 + yy) % 256, (yy * 2) % 256, (xx + yy * 5) % 256], -1).astype(float)
    rgb = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
    im = Image.fromarray(rgb)
    rgba = im.convert("RGBA")
    rgba.putalpha(Image.fromarray(rgb[:, :, 0]))
    big = Image.fromarray(np.tile(rgb, (6, 4, 1))[:280, :300])
    signal = np.cumsum(rng.normal(0, 1, 300)).astype(np.float32)
    return [aecodec.encode(im, quality=2), aecodec.encode(im.convert("L").crop((0, 0, 37, 21)), quality=7),
            aecodec.encode(rgba, quality=5), aecodec.encode(im, codec="vqvae", quality=3),
            aecodec.encode(im, codec="hyperprior", quality=4), aecodec.encode(im, codec="hyperprior-ctx", quality=9),
            aecodec.encode(im, codec="hyperprior-msssim", quality=1), aecodec.encode(big, quality=3, tile=256),
            aecodec.encode(Image.new("RGB", (1, 1), (200, 30, 40))),
            aecodec.encode(Image.new("LA", (70, 300), (90, 200)), tile=256), aecodec.encode_array(signal, 0.05)]


def repaired(data: bytes) -> bytes | None:
    """``data`` with its container CRC, header digest, alpha digest and (array and exact files) stream CRCs made right,
    or None when it does not parse as a container even then: the symbols behind them stay as the fuzzer made
    them."""
    from aecodec.errors import AecError
    from aecodec.format import container, payload

    if len(data) < 8:
        return None
    data = data[:-4] + struct.pack(">I", zlib.crc32(data[:-4]))
    try:
        c = container.unpack(data)
    except AecError:
        return None
    if not c.streams:
        return data
    n = len(c.streams[-1]) // 4
    if n == 0:
        return data
    digests = list(struct.unpack(f">{n}I", c.streams[-1][:4 * n]))
    digests[0] = payload.header_digest(c)
    body = c.streams[:-1]
    if c.mode == "F" or c.flags & container.EXACT:  # array and exact files check their streams' bytes
        for i, s in enumerate(body[:n - 1]):
            digests[i + 1] = zlib.crc32(s)
    elif c.mode in ("RGBA", "LA") and len(body) == n - 1:
        digests[-1] = zlib.crc32(body[-1])
    c.streams = body + [struct.pack(f">{n}I", *digests)]
    return container.pack(c)


def declared_pixels(data: bytes) -> int:
    """Pixels of the padded canvas for the width x height a container header declares (0: no header)."""
    if len(data) < 24:
        return 0
    width, height = struct.unpack_from(">II", data, 16)
    return (width + -width % STRIDE) * (height + -height % STRIDE)


class _Equal(int):
    """A digest every check accepts: the payload target decodes symbols the fuzzer made, digests or not."""

    def __ne__(self, other: object) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = int.__hash__


@contextmanager
def _digests_bypassed() -> Iterator[None]:
    from aecodec.codecs import latents, vq

    saved = latents.digest
    latents.digest = vq.digest = lambda symbols: _Equal(0)
    try:
        yield
    finally:
        latents.digest = vq.digest = saved


def _target(name: str) -> Callable[[bytes], None]:
    """The named harness: bytes -> None, raising only on a finding."""
    from PIL import Image, UnidentifiedImageError

    import aecodec
    from aecodec import fileinfo
    from aecodec.errors import AecError
    from aecodec.format import container

    def container_target(data: bytes) -> None:
        try:
            c = container.unpack(data)
        except AecError:
            return
        if container.pack(c) != data:
            raise AssertionError("a parsed container does not pack back to its bytes")
        try:
            fileinfo.inspect(data)
        except AecError:
            pass

    def decode_target(data: bytes) -> None:
        if declared_pixels(data) > MAX_DECLARED_PIXELS:
            return
        try:
            aecodec.decode(data)
        except AecError:
            pass

    def payload_target(data: bytes) -> None:
        fixed = repaired(data)
        if fixed is not None:
            with _digests_bypassed():
                decode_target(fixed)

    def array_target(data: bytes) -> None:
        fixed = repaired(data)
        if fixed is None:
            return
        try:
            aecodec.decode_array(fixed)
        except AecError:
            pass

    def pillow_target(data: bytes) -> None:
        if declared_pixels(data) > MAX_DECLARED_PIXELS:
            return
        try:
            with Image.open(io.BytesIO(data), formats=["AEC"]) as im:
                im.load()
        except (AecError, UnidentifiedImageError):
            pass

    targets = {"container": container_target, "decode": decode_target, "payload": payload_target,
               "array": array_target, "pillow": pillow_target}
    return targets[name]


TARGETS = ("container", "decode", "payload", "array", "pillow")


def _instrumented() -> None:
    """Import every module that reads file bytes under atheris' coverage instrumentation (aecodec only: torch
    and numpy are not ours to fuzz)."""
    import atheris

    with atheris.instrument_imports(include=["aecodec"]):
        import aecodec  # noqa: F401
        from aecodec import api, fileinfo, pillow_plugin  # noqa: F401
        from aecodec.codecs import autoregressive, checkerboard, hyperprior, latents, postfilter, signal, vq  # noqa: F401
        from aecodec.coding import ans, fixedpoint, rans, tables  # noqa: F401
        from aecodec.format import container, payload  # noqa: F401


def fuzz(name: str, argv: list[str]) -> None:
    """Run one target under libFuzzer (``argv``: corpus folders and libFuzzer flags); never returns."""
    import atheris

    _instrumented()
    import aecodec

    kinds = {"container": (), "array": ("array",)}.get(name, ("image",))
    for info in aecodec.list_codecs():  # load the shipped codecs first: loading is not the input's cost
        if info.weights and info.kind in kinds:
            aecodec.load(info.name)
    atheris.Setup([sys.argv[0], f"-timeout={TIMEOUT_S}", f"-rss_limit_mb={RSS_LIMIT_MB}", *argv], _target(name))
    atheris.Fuzz()


def write_seeds(folder: Path) -> None:
    for i, data in enumerate(seeds()):
        (folder / f"seed{i}.aec").write_bytes(data)


_STATS = re.compile(r"#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)")


def run_target(name: str, seconds: int, seed: int, corpus: Path, workdir: Path) -> dict:
    """One target as a child process for ``seconds`` (``-seed``), growing ``corpus``: its libFuzzer statistics
    and any finding's file."""
    cmd = [sys.executable, "-m", "tests.fuzz", name, str(corpus), f"-max_total_time={seconds}", f"-seed={seed}",
           "-print_final_stats=1", f"-artifact_prefix={workdir}/{name}-"]
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
    log = run.stderr
    done = _STATS.findall(log)
    findings = sorted(p.name for p in workdir.glob(f"{name}-*"))
    out = {"target": name, "seconds": seconds, "seed": seed, "exit": run.returncode, "findings": findings}
    if done:
        execs, cov, ft, corp = map(int, done[-1])
        out.update(executions=execs, coverage_edges=cov, features=ft, corpus=corp)
    else:
        out["log_tail"] = log[-2000:]
    return out


def campaign(seconds: int, seed: int, targets: list[str], findings: Path) -> dict:
    """Every target for ``seconds`` from the seed corpus: executions, coverage and findings per target (their
    inputs copied into ``findings``)."""
    work = Path(tempfile.mkdtemp(prefix="aecfuzz-"))
    try:
        seed_dir = work / "seeds"
        seed_dir.mkdir()
        write_seeds(seed_dir)
        rows = []
        for name in targets:
            corpus = work / f"corpus-{name}"
            shutil.copytree(seed_dir, corpus)
            for f in REGRESSIONS.glob("*"):
                shutil.copy(f, corpus)
            rows.append(run_target(name, seconds, seed, corpus, work))
            for f in rows[-1]["findings"]:
                findings.mkdir(parents=True, exist_ok=True)
                shutil.copy(work / f, findings / f)
            print(json.dumps(rows[-1]), flush=True)
        return {"targets": rows, "executions": sum(r.get("executions", 0) for r in rows),
                "findings": sum(len(r["findings"]) for r in rows)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in TARGETS:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        fuzz(sys.argv[1], sys.argv[2:])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["campaign"])
    p.add_argument("--seconds", type=int, default=900, help="per target")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--targets", default=",".join(TARGETS))
    p.add_argument("--findings", type=Path, default=Path("fuzz-findings"),
                   help="folder for the inputs of findings (default: ./fuzz-findings)")
    p.add_argument("--out", type=Path, nargs="?", const=RESULT,
                   help=f"write the JSON report here (no value: {RESULT.relative_to(RESULT.parents[2])})")
    a = p.parse_args()
    report = campaign(a.seconds, a.seed, a.targets.split(","), a.findings)
    print(json.dumps({k: v for k, v in report.items() if k != "targets"}))
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(report, indent=1) + "\n")
    raise SystemExit(1 if report["findings"] else 0)


if __name__ == "__main__":
    main()
