"""Copy a training run's results out of a device machine in files of at most 16 MB.

    python scripts/snapshot.py RUN OUT
For last.pt and best.pt: the model weights in two halves (NAME_a.pt: the analysis transforms, NAME_b.pt: the rest)
and NAME.json (config, step, the loop's and the task's options, validation); the log; and, once the run has ended,
the exported weights file and its provenance JSON (what `aecodec train` writes into its folder).
"""
import json
import shutil
import sys
from pathlib import Path

import torch

run, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
for name in ("last", "best"):
    path = run / f"{name}.pt"
    if not path.exists():
        continue
    ck = torch.load(path, map_location="cpu", weights_only=False)
    keys = sorted(ck["model"])
    half = [k for k in keys if k.startswith(("g_a.", "h_a."))]
    rest = [k for k in keys if k not in half]
    for part, ks in (("a", half), ("b", rest)):
        torch.save({k: ck["model"][k] for k in ks}, out / f"{name}_{part}.pt")
    info = {k: ck[k] for k in ("config", "step", "options", "task_options", "best_val", "state")}
    (out / f"{name}.json").write_text(json.dumps(info, indent=1))
exported = sorted(run.glob("*.safetensors"))
for path in [run / "log.csv", *exported, *(w.with_suffix(".json") for w in exported)]:
    if path.exists():
        shutil.copy(path, out / path.name)
