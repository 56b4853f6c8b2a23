"""The context model's task: its rates (closed forms, and training lowers them), and a run that caches the frozen
latents in the run folder and resumes exactly."""
import math

import pytest
import torch

from aecodec.codecs.weights_file import read_tensors, weights_metadata
from aecodec.models.context import CheckerboardContext, ContextConfig, anchor_mask
from aecodec.models.hyperprior import Hyperprior, HyperpriorConfig
from aecodec.training.loop import train
from aecodec.training.tasks.context import checkerboard_bits, discrete_bits
from tests.test_training_tasks import run_options


def test_context_run_caches_latents_and_resumes_exactly(tmp_path, images):
    def opts(name, **kw):
        return run_options(tmp_path, images, "hyperprior-ctx", name, fresh=True, width=8, hidden=8, steps=4,
                           batch=2, patch=128, crop=192, val_every=2, ckpt_every=2, **kw)
    straight = train(*opts("straight"))
    assert straight.name == "hyperprior_ctx.safetensors"
    interrupted = train(*opts("resumed", time_limit=1e-9))  # stops after one step: no export yet
    assert interrupted.name == "last.pt" and not (tmp_path / "resumed" / "hyperprior_ctx.safetensors").exists()
    latents = tmp_path / "resumed" / "latents.pt"
    cached = latents.stat().st_mtime_ns
    assert torch.load(interrupted, weights_only=False)["step"] == 1
    assert train(*opts("resumed")) == tmp_path / "resumed" / "hyperprior_ctx.safetensors"
    assert latents.stat().st_mtime_ns == cached  # the frozen latents are computed once per run
    y = torch.load(latents, weights_only=False)["train"]
    assert y.dtype == torch.float16 and y.shape == (1, 256, 12, 12)
    a = torch.load(tmp_path / "straight" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "resumed" / "last.pt", weights_only=False)
    assert a["step"] == b["step"] == 4 and a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert a["state"]["best_val"] == b["state"]["best_val"]
    assert a["task_options"] == b["task_options"] == {"width": 8, "hidden": 8}
    exported = [tmp_path / run / "hyperprior_ctx.safetensors" for run in ("straight", "resumed")]
    assert weights_metadata(exported[0]) == weights_metadata(exported[1])
    sa, sb = (read_tensors(path) for path in exported)
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_discrete_bits_match_the_closed_form():
    # P(0) = erf(1 / (2 sqrt 2)) for a unit Gaussian over [-1/2, 1/2]; P(3) = Phi(3.5) - Phi(2.5) at scale 1
    bits = discrete_bits(torch.tensor([0.0, 3.0, -3.0]), torch.tensor([1.0, 1.0, 1.0]))
    p3 = 0.5 * (math.erf(3.5 / math.sqrt(2)) - math.erf(2.5 / math.sqrt(2)))
    assert bits[0].item() == pytest.approx(-math.log2(math.erf(0.5 / math.sqrt(2))), rel=1e-5)
    assert bits[1].item() == pytest.approx(-math.log2(p3), rel=1e-4) and bits[1] == bits[2]
    tiny = discrete_bits(torch.tensor([0.0]), torch.tensor([1e-4]))  # scales below the table's floor use 0.11
    assert torch.equal(tiny, discrete_bits(torch.tensor([0.0]), torch.tensor([0.11]))) and tiny.item() < 1e-4


def test_context_bits_start_at_the_hyperprior_and_training_lowers_them():
    """On latents whose non-anchors repeat a neighbouring anchor, a few steps on the noisy rate lower the real
    (rounded) bits of the non-anchors below the hyperprior's."""
    torch.manual_seed(0)
    base = Hyperprior(HyperpriorConfig(N=8, M=8, lambdas=(0.01, 0.1))).eval().requires_grad_(False)
    ctx = CheckerboardContext(ContextConfig(M=8, levels=2, width=16, hidden=32, kernel=3))
    anchor = anchor_mask(8, 8)
    y = torch.randn(16, 8, 8, 8) * 4
    y = torch.where(anchor, y, torch.roll(y, 1, -1))
    level = torch.tensor([0, 1] * 8)
    c, h, a, z = checkerboard_bits(ctx, base, y, level)
    assert torch.equal(c, h) and (a > 0).all() and (z > 0).all()
    opt = torch.optim.Adam(ctx.parameters(), lr=3e-3)
    for _ in range(150):
        opt.zero_grad()
        checkerboard_bits(ctx, base, y, level, noise="noise")[0].mean().backward()
        opt.step()
    c, h, _, _ = checkerboard_bits(ctx, base, y, level)
    assert c.sum() < 0.8 * h.sum()
