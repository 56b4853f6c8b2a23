"""Validation RD loss against CPU-hours for training runs: what a CPU-hour of training buys.

    python bench/training_curve.py runs/base-cpu2 runs/ema-cpu --baseline 2.1461 \
        --out bench/results/training/cpu_curve.json

Reads each run's ``log.csv`` (written by ``aecodec train``): the ``seconds`` column restarts at every resume, so
wall time is accumulated across restarts. CPU-hours = wall hours x the run's threads (an upper bound on a shared
machine). ``--baseline`` is the validation loss of the starting weights on the same crops, so each point is
also given as a relative change (negative = better); ``--reference`` draws the shipped weights' loss as a line
for runs from scratch. Writes the points as JSON and a PNG plot beside it.
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import ScalarFormatter  # noqa: E402
import torch  # noqa: E402


def run_points(run: Path, baseline: float | None) -> dict:
    """The validated steps of one run, with cumulative wall and CPU time."""
    ckpt = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
    o = ckpt["options"]
    threads = o.get("threads") or torch.get_num_threads()
    points, offset, last = [], 0.0, 0.0
    for row in csv.DictReader(open(run / "log.csv")):
        sec = float(row["seconds"])
        if sec < last:  # a resumed process starts its clock again
            offset += last
        last = sec
        if not row["val_loss"]:
            continue
        wall = offset + sec
        p = {"step": int(row["step"]), "wall_hours": wall / 3600, "cpu_hours": wall * threads / 3600,
             "val_loss": float(row["val_loss"]), "val_bpp": float(row["val_bpp"]),
             "val_psnr": float(row["val_psnr"])}
        if row.get("ema_val_loss"):
            p["ema_val_loss"] = float(row["ema_val_loss"])
        if baseline:
            p["val_loss_change"] = p["val_loss"] / baseline - 1
            if "ema_val_loss" in p:
                p["ema_val_loss_change"] = p["ema_val_loss"] / baseline - 1
        points.append(p)
    keys = ("lr", "batch", "patch", "ema", "crops_per_image", "compile", "init", "data", "steps")
    return {"run": run.name, "options": {k: o.get(k) for k in keys}, "threads": threads, "points": points}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--baseline", type=float, default=None, help="validation loss of the starting weights")
    p.add_argument("--out", type=Path, default=Path("bench/results/training/cpu_curve.json"))
    p.add_argument("--reference", type=float, default=None,
                   help="validation loss of the shipped weights, drawn as a line (for runs from scratch)")
    p.add_argument("--title", default="")
    p.add_argument("--log-y", action="store_true", help="logarithmic loss axis (runs from scratch)")
    a = p.parse_args()
    result = {"baseline_val_loss": a.baseline, "reference_val_loss": a.reference,
              "runs": [run_points(r, a.baseline) for r in a.runs]}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=1) + "\n")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    start = [(0.0, a.baseline)] if a.baseline else []  # runs that start from the baseline weights
    for r in result["runs"]:
        live = start + [(q["cpu_hours"], q["val_loss"]) for q in r["points"]]
        ax.plot(*zip(*live), "o-", label=f"{r['run']} (live weights)")
        if any("ema_val_loss" in q for q in r["points"]):
            ema = start + [(q["cpu_hours"], q.get("ema_val_loss", float("nan"))) for q in r["points"]]
            ax.plot(*zip(*ema), "s--", label=f"{r['run']} (EMA weights)")
    if a.baseline or a.reference:
        ax.axhline(a.baseline or a.reference, color="grey", lw=0.8, label="shipped weights")
    ax.set_xlabel("CPU-hours (wall x threads)")
    ax.set_ylabel("validation RD loss (mean over the levels)")
    if a.log_y:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(ScalarFormatter())
    p_title = a.title or "Training on this machine's CPU"
    ax.set_title(p_title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.out.with_suffix(".png"), dpi=110)
    for r in result["runs"]:
        for q in r["points"]:
            extra = f" ema {q['ema_val_loss']:.4f}" if "ema_val_loss" in q else ""
            print(f"{r['run']:>16} step {q['step']:>5} {q['cpu_hours']:.2f} CPU-h val {q['val_loss']:.4f}{extra}")


if __name__ == "__main__":
    main()
