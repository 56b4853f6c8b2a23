"""Folder runs under stress: concurrent runs into one folder, kill -9 then rerun, Ctrl-C at random moments.

    python bench/reliability.py [--images 40] [--kills 10] [--interrupts 20] [--seed 0] [--out [PATH]]

Why: a folder run must never lose a file, leave a partial or mixed one, hang on Ctrl-C, or leave workers
behind, however it ends. Each scenario runs the real command line (``python -m aecodec encode IN -o OUT``) on
``--images`` small photos (crops of tests/data/sample.png, so the tool runs anywhere), and checks every output
against a reference encode of the same file (bytes identical: complete and not mixed) and that no temporary
``.part`` file is left:

- concurrent: four runs (``--jobs 2`` each) at once into the same folder;
- kill: ``--kills`` times, SIGKILL of a run's main process at a random moment, then the time until no process
  of that run is alive (bar: 30 s), then the same command again, which must finish the job;
- interrupt: ``--interrupts`` runs with ``--jobs 2``, SIGINT to the run's process group (as a terminal's Ctrl-C)
  at a random moment: exit code 130 within 10 s, one line and no traceback on stderr, no partial file.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "bench" / "results" / "reliability.json"
SAMPLE = ROOT / "tests" / "data" / "sample.png"


def make_images(folder: Path, n: int) -> None:
    """``n`` different 160x120 crops of the sample photo."""
    im = Image.open(SAMPLE).convert("RGB")
    rng = random.Random(0)
    for i in range(n):
        left, top = rng.randrange(im.width - 160), rng.randrange(im.height - 120)
        im.crop((left, top, left + 160, top + 120)).save(folder / f"img{i:03d}.png")


def command(src: Path, out: Path, jobs: int = 2) -> list[str]:
    return [sys.executable, "-m", "aecodec", "--quiet", "encode", str(src), "-o", str(out), "--jobs", str(jobs)]


def check(out: Path, reference: dict[str, bytes]) -> dict:
    """Outputs against the reference: missing, different (partial or mixed) and leftover temporary files."""
    found = {p.name: p.read_bytes() for p in out.glob("*.aec")}
    return {"missing": sorted(set(reference) - set(found)),
            "different": sorted(k for k in found if found[k] != reference.get(k)),
            "partial": sorted(p.name for p in out.iterdir() if p.name.endswith(".part"))}


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def concurrent(src: Path, work: Path, reference: dict[str, bytes]) -> dict:
    out = work / "concurrent"
    out.mkdir()
    t = time.perf_counter()
    runs = [subprocess.Popen(command(src, out), stderr=subprocess.PIPE, text=True) for _ in range(4)]
    codes = [r.wait() for r in runs]
    return {"runs": 4, "exit_codes": codes, "seconds": round(time.perf_counter() - t, 1), **check(out, reference)}


def kills(src: Path, work: Path, reference: dict[str, bytes], n: int, rng: random.Random) -> dict:
    rows = []
    for k in range(n):
        out = work / f"kill{k}"
        out.mkdir()
        run = subprocess.Popen(command(src, out), stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.0, 12.0))
        procs = descendants(run.pid)
        run.kill()
        run.wait()
        t = time.perf_counter()
        while any(alive(p) for p in procs) and time.perf_counter() - t < 60:
            time.sleep(0.1)
        gone_s = round(time.perf_counter() - t, 2)
        done_before = len(list(out.glob("*.aec")))
        rerun = subprocess.run(command(src, out), stderr=subprocess.PIPE, text=True)
        rows.append({"killed_after_outputs": done_before, "workers": len(procs), "all_gone_s": gone_s,
                     "rerun_exit": rerun.returncode, **check(out, reference)})
    return {"kills": n, "rows": rows, "max_all_gone_s": max(r["all_gone_s"] for r in rows),
            "ok": all(r["all_gone_s"] < 30 and r["rerun_exit"] == 0 and not (r["missing"] or r["different"]
                      or r["partial"]) for r in rows)}


def interrupts(src: Path, work: Path, reference: dict[str, bytes], n: int, rng: random.Random) -> dict:
    rows = []
    for k in range(n):
        out = work / f"int{k}"
        out.mkdir()
        run = subprocess.Popen(command(src, out), stderr=subprocess.PIPE, text=True, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        time.sleep(rng.uniform(0.2, 12.0))
        t = time.perf_counter()
        os.killpg(run.pid, signal.SIGINT)
        try:
            _, err = run.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            _, err = run.communicate()
        seconds = round(time.perf_counter() - t, 2)
        c = check(out, reference)
        rows.append({"exit": run.returncode, "seconds": seconds, "traceback": "Traceback" in err,
                     "stderr_lines": len(err.strip().splitlines()), "outputs": len(list(out.glob("*.aec"))),
                     "different": c["different"], "partial": c["partial"]})
    finished = sum(r["exit"] == 0 for r in rows)  # a signal after the run's end finds nothing to stop
    return {"interrupts": n, "rows": rows, "finished_before_signal": finished,
            "max_seconds": max(r["seconds"] for r in rows),
            "ok": all((r["exit"] == 130 or r["exit"] == 0) and r["seconds"] < 10 and not r["traceback"]
                      and r["stderr_lines"] <= 1 and not (r["different"] or r["partial"]) for r in rows)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=40)
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--interrupts", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, nargs="?", const=RESULT,
                   help=f"write the JSON report here (no value: {RESULT.relative_to(ROOT)})")
    a = p.parse_args()
    rng = random.Random(a.seed)
    work = Path(tempfile.mkdtemp(prefix="aecrel-"))
    try:
        src = work / "in"
        src.mkdir()
        make_images(src, a.images)
        ref = work / "reference"
        ref.mkdir()
        subprocess.run(command(src, ref), check=True)
        reference = {p.name: p.read_bytes() for p in ref.glob("*.aec")}
        report = {"images": a.images, "seed": a.seed, "concurrent": concurrent(src, work, reference)}
        print(json.dumps(report["concurrent"]), flush=True)
        report["kill"] = kills(src, work, reference, a.kills, rng)
        print(json.dumps({k: v for k, v in report["kill"].items() if k != "rows"}), flush=True)
        report["interrupt"] = interrupts(src, work, reference, a.interrupts, rng)
        print(json.dumps({k: v for k, v in report["interrupt"].items() if k != "rows"}), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    c = report["concurrent"]
    report["ok"] = (not (c["missing"] or c["different"] or c["partial"]) and set(c["exit_codes"]) == {0}
                    and report["kill"]["ok"] and report["interrupt"]["ok"])
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(report, indent=1) + "\n")
    raise SystemExit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
