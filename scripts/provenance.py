"""Write the provenance JSON beside a shipped weights file from a benchmark run and the training logs.

    python scripts/provenance.py CODEC BENCH_DIR TRAINING_JSON
BENCH_DIR holds results.json and per_image.csv of `aecodec bench --dataset kodak` (all 24 images);
TRAINING_JSON describes how the weights were trained: the JSON `aecodec train` writes beside the weights it
exports (command, data, steps, validation, time), or a record of several runs (scripts/*_training.json).
"""
import csv
import hashlib
import json
import sys
from pathlib import Path

import aecodec

name, bench, training = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
info = aecodec.get_codec(name)
res = json.loads((bench / "results.json").read_text())
assert len(res["images"]) == 24, "provenance needs all 24 Kodak images"
rows = res["codecs"][name]
per_image = [r for r in csv.DictReader(open(bench / "per_image.csv")) if r["codec"] == name]
prov = {
    "codec": name,
    "weights": info.weights,
    "sha256": hashlib.sha256(info.weights_path.read_bytes()).hexdigest(),
    "bytes": info.weights_path.stat().st_size,
    "training": json.loads(training.read_text()),
    "kodak": [{"quality": r["quality"], "bpp": round(r["bpp"], 5), "psnr": round(r["psnr"], 4),
               "ms_ssim": round(r["ms_ssim"], 5), "enc_s_median": round(r["enc_s"], 3),
               "dec_s_median": round(r["dec_s"], 3)} for r in rows],
    "kodim05": [{"quality": float(r["quality"]), "bpp": float(r["bpp"]), "psnr": float(r["psnr"])}
                for r in per_image if r["image"] == "kodim05.png"],
    "bd_rate_vs_jpeg": {"psnr": res["bd_rate"]["psnr"].get(name), "ms_ssim": res["bd_rate"]["ms_ssim"].get(name)},
}
info.weights_path.with_suffix(".json").write_text(json.dumps(prov, indent=1) + "\n")
print(f"wrote {info.weights_path.with_suffix('.json')}")
