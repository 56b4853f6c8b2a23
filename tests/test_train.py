"""A tiny run of the real training loop: it learns, checkpoints, and resumes exactly."""
import csv

import torch

from aecodec.train import TrainOptions, lr_at, train


def opts(tmp_path, data, steps, name="run"):
    return TrainOptions(out=str(tmp_path / name), data=data, N=8, M=12, steps=steps, batch=2, patch=64, lr=1e-3,
                        warmup=2, val_every=3, ckpt_every=3, lambdas="0.01,0.05")


def test_schedule_warmup_then_cosine():
    o = TrainOptions(lr=1.0, warmup=10, steps=110, min_lr_ratio=0.1)
    assert lr_at(0, o) == 0.1 and lr_at(9, o) == 1.0
    assert abs(lr_at(60, o) - 0.55) < 1e-9 and abs(lr_at(110, o) - 0.1) < 1e-9


def test_train_log_checkpoint_and_exact_resume(tmp_path, sample_path):
    data = str(sample_path.parent)
    best = train(opts(tmp_path, data, 6, "straight"))
    assert best.exists()
    rows = list(csv.DictReader(open(tmp_path / "straight" / "log.csv")))
    assert rows and rows[-1]["val_loss"] != ""
    o = opts(tmp_path, data, 6, "resumed")
    o.time_limit = 1e-9  # stop after the first step, then resume to the end
    train(o)
    first = torch.load(tmp_path / "resumed" / "last.pt", weights_only=False)
    assert first["step"] == 1
    train(opts(tmp_path, data, 6, "resumed"))
    a = torch.load(tmp_path / "straight" / "last.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "resumed" / "last.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
