"""Copy a training run's model weights out of a device machine in files of at most 16 MB (fp32 halves)."""
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
    info = {k: ck[k] for k in ("config", "step", "options", "best_val")}
    (out / f"{name}.json").write_text(json.dumps(info, indent=1))
if (run / "log.csv").exists():
    shutil.copy(run / "log.csv", out / "log.csv")
