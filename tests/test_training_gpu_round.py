"""The GPU round, dry-run on the CPU: scripts/gpu_train.sh starts the same train command it runs on a device
machine (on a tiny pack, for a few steps), waits for it, and snapshots what a device call brings back."""
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

import aecodec
from aecodec.training.crops import random_crops, save_pack

ROOT = Path(__file__).resolve().parent.parent


def test_gpu_train_script_round_on_cpu(tmp_path, sample_path):
    crops = random_crops([sample_path], 128, 3, seed=0)
    pack = tmp_path / "pack.npz"
    save_pack(pack, crops[:2], crops[2:])
    run, out = tmp_path / "run", tmp_path / "out"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "RUN": str(run),
           "OUT": str(out), "DEVICE": "cpu", "SKIP_PIP": "1", "WATCH": "240"}
    args = ["--fresh", "--N", "8", "--M", "12", "--lambdas", "0.01,0.05", "--steps", "3", "--batch", "1",
            "--patch", "64", "--val-every", "3", "--threads", "1"]
    r = subprocess.run(["bash", "scripts/gpu_train.sh", "start", str(pack), "60", *args], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    names = {p.name for p in out.iterdir()}
    assert {"last_a.pt", "last_b.pt", "last.json", "best_a.pt", "best_b.pt", "best.json", "log.csv",
            "hyperprior.safetensors", "hyperprior.json"} <= names, names
    assert all(p.stat().st_size < 16 << 20 for p in out.iterdir())  # what one device call can bring back
    last = torch.load(run / "last.pt", weights_only=False)
    halves = {**torch.load(out / "last_a.pt"), **torch.load(out / "last_b.pt")}
    assert halves.keys() == last["model"].keys() and all(torch.equal(halves[k], v) for k, v in last["model"].items())
    assert json.loads((out / "last.json").read_text())["step"] == 3
    prov = json.loads((out / "hyperprior.json").read_text())
    assert prov["steps"] == 3 and prov["data"].startswith(f"pack {run / 'pack.npz'}: 2 training and 1 validation")
    assert prov["command"].startswith(f"aecodec train --codec hyperprior --data {run / 'pack.npz'} --out {run} ")
    assert " --fresh --steps 3 " in prov["command"]  # the options given after the script's own
    codec = aecodec.load("hyperprior", weights=out / "hyperprior.safetensors")
    assert (codec.model.config.N, codec.model.config.M) == (8, 12)
