"""The hyperprior task: a warm start given more lambdas keeps its trained levels and extrapolates new ones."""
import math

import pytest
import torch

import aecodec
from aecodec.training.flags import from_flags
from aecodec.training.loop import train
from aecodec.training.tasks import make_task
from aecodec.training.tasks.hyperprior import relevel
from tests.test_training_tasks import TINY_HYPERPRIOR, run_options

CPU = torch.device("cpu")


def test_warm_start_keeps_trained_levels_and_extrapolates_new_ones(tmp_path, images):
    first = train(*run_options(tmp_path, images, "hyperprior", "two", lambdas="0.01,0.05", **TINY_HYPERPRIOR))
    init = aecodec.load("hyperprior", weights=first).model
    o, options = from_flags(dict(codec="hyperprior", init=str(first), lambdas="0.0025,0.01,0.05"))
    model = make_task(o, options, CPU).build(None)
    assert model.config.lambdas == (0.0025, 0.01, 0.05) and (model.config.N, model.config.M) == (8, 12)
    t = math.log(0.25) / math.log(5)  # 0.0025 lies two octaves below 0.01, on the line through 0.01 and 0.05
    for name in ("log_gain", "log_inv_gain", "log_hyper_gain", "log_inv_hyper_gain"):
        old, new = getattr(init, name).detach(), getattr(model, name).detach()
        assert torch.equal(new[1:], old)
        assert torch.allclose(new[0], old[0] + t * (old[1] - old[0]), atol=1e-6)
    same = relevel({"log_gain": old}, (0.01, 0.05), (5.0, 30.0))  # as many levels: relabelled, e.g. for MS-SSIM
    assert torch.equal(same["log_gain"], old)
    with pytest.raises(aecodec.AecError, match="must keep"):
        relevel({"log_gain": old}, (0.01, 0.05), (0.01, 0.02, 0.04))


def test_the_metric_left_to_the_codec_is_filled_in_and_recorded():
    for codec, metric in (("hyperprior", "mse"), ("hyperprior-msssim", "ms-ssim"), ("vqvae", "mse")):
        assert make_task(*from_flags(dict(codec=codec)), CPU).options.metric == metric
    assert make_task(*from_flags(dict(codec="hyperprior", metric="ms-ssim")), CPU).options.metric == "ms-ssim"
