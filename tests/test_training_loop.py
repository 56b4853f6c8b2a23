"""A tiny run of the real training loop: it learns, checkpoints, and resumes exactly."""
import csv

import pytest
import torch

from aecodec.training.flags import from_flags
from aecodec.training.loop import lr_at, train
from aecodec.training.options import TrainOptions

pytestmark = pytest.mark.slow


def opts(tmp_path, data, steps, name="run", **kw):
    """(loop, task) options of a tiny fresh hyperprior run."""
    return from_flags({**dict(out=str(tmp_path / name), data=data, fresh=True, N=8, M=12, steps=steps, batch=2,
                              patch=64, lr=1e-3, warmup=2, val_every=3, ckpt_every=3, lambdas="0.01,0.05"), **kw})


def test_schedule_warmup_then_cosine():
    o = TrainOptions(lr=1.0, warmup=10, steps=110, min_lr_ratio=0.1)
    assert lr_at(0, o) == 0.1 and lr_at(9, o) == 1.0
    assert abs(lr_at(60, o) - 0.55) < 1e-9 and abs(lr_at(110, o) - 0.1) < 1e-9


def test_train_log_checkpoint_and_exact_resume(tmp_path, sample_path):
    data = str(sample_path.parent)
    best = train(*opts(tmp_path, data, 6, "straight"))
    assert best.exists()
    rows = list(csv.DictReader(open(tmp_path / "straight" / "log.csv")))
    assert rows and rows[-1]["val_loss"] != ""
    train(*opts(tmp_path, data, 6, "resumed", time_limit=1e-9))  # stop after the first step, then resume to the end
    first = torch.load(tmp_path / "resumed" / "last.pt", weights_only=False)
    assert first["step"] == 1
    train(*opts(tmp_path, data, 6, "resumed"))
    a = torch.load(tmp_path / "straight" / "last.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "resumed" / "last.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_ema_resumes_exactly_and_best_holds_the_averaged_weights(tmp_path, sample_path):
    data = str(sample_path.parent)
    train(*opts(tmp_path, data, 6, "ema", ema=0.5, crops_per_image=2))
    train(*opts(tmp_path, data, 6, "ema_resumed", ema=0.5, crops_per_image=2, time_limit=1e-9))
    train(*opts(tmp_path, data, 6, "ema_resumed", ema=0.5, crops_per_image=2))
    a = torch.load(tmp_path / "ema" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "ema_resumed" / "last.pt", weights_only=False)
    assert a["ema"]["updates"] == b["ema"]["updates"] == 6
    ema = a["ema"]["shadow"]
    assert all(torch.equal(ema[k], b["ema"]["shadow"][k]) for k in ema)
    assert any(not torch.equal(ema[k], a["model"][k]) for k in ema)  # the average lags the live weights
    best = torch.load(tmp_path / "ema" / "best.pt", weights_only=False)
    assert all(torch.equal(best["model"][k], v) for k, v in best["ema"]["shadow"].items())
    rows = [r for r in csv.DictReader(open(tmp_path / "ema" / "log.csv")) if r["ema_val_loss"]]
    assert rows and abs(min(float(r["ema_val_loss"]) for r in rows) - best["best_val"]) < 1e-6


def test_compiled_training_follows_eager(tmp_path, sample_path):
    """--compile runs the same loop through torch.compile. Inductor draws the quantization noise from its own
    generator, so weights are not bit-equal; but an Adam step moves a weight by about lr, so after 3 steps the two
    runs stay within 2 * 3 * lr of each other."""
    data = str(sample_path.parent)
    train(*opts(tmp_path, data, 3, "eager"))
    o, options = opts(tmp_path, data, 3, "compiled", compile=True)
    train(o, options)
    a = torch.load(tmp_path / "eager" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "compiled" / "last.pt", weights_only=False)
    assert b["step"] == 3
    gap = max((a["model"][k] - b["model"][k]).abs().max().item() for k in a["model"] if a["model"][k].numel())
    assert gap <= 2 * 3 * o.lr
    assert 0 < gap  # different noise draws: a compiled run is its own run, not a replay


def test_ms_ssim_metric_grad_checkpointing_and_early_stop(tmp_path, sample_path):
    train(*opts(tmp_path, str(sample_path.parent), 40, "ms", metric="ms-ssim", grad_checkpointing=True, patch=192,
                lambdas="5,30", lr=0.0, aux_lr=0.0, patience=1, val_every=2))  # frozen: no gain, stop at 2nd check
    ck = torch.load(tmp_path / "ms" / "last.pt", weights_only=False)
    assert ck["step"] == 4 and ck["stale"] == 1


def test_rd_loss_metrics_agree_on_perfect_reconstruction():
    from aecodec.training.losses import rd_loss

    x = torch.rand(2, 3, 192, 192)
    out = {"x_hat": x.clone(), "likelihoods": {"y": torch.full((2, 4, 3, 3), 0.5)}}
    for metric in ("mse", "ms-ssim"):
        r = rd_loss(x, out, torch.tensor([1.0, 1.0]), metric)
        # distortion 0, rate = 36 bits / (192*192) pixels
        assert abs(r.loss.item() - 36 / 192**2) < 1e-5


def test_torchrun_two_cpu_processes_on_gloo(tmp_path, sample_path):
    """Data-parallel training: two ranks, gradients averaged, one checkpoint and log from rank 0."""
    import subprocess
    import sys

    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           "-m", "aecodec.training.loop", "--data", str(sample_path.parent), "--out", str(out), "--fresh", "--N", "8",
           "--M", "12", "--steps", "4", "--batch", "1", "--patch", "64", "--warmup", "1", "--val-every", "2",
           "--lambdas", "0.01,0.05", "--threads", "1"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    ck = torch.load(out / "last.pt", weights_only=False)
    assert ck["step"] == 4
    rows = list(csv.DictReader(open(out / "log.csv")))
    assert [row["step"] for row in rows if row["val_loss"]] == ["2", "4"]
    assert (out / "hyperprior.safetensors").exists()  # rank 0 exports
