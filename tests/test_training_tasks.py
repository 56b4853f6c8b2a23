"""One loop trains every registered codec: a 2-step run leaves a shippable weights file that codes and decodes,
with provenance whose command rebuilds the run's options; warm starts can add quality levels; the context
model's run (frozen latents cached in the run folder) resumes exactly."""
import json
import math
import shlex
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import aecodec
from aecodec.codecs.weights import file_hash, read_tensors, weights_metadata
from aecodec.training.loop import TrainOptions, command, parser, train
from aecodec.training.tasks import make_task, relevel

CPU = torch.device("cpu")
TINY_HYPERPRIOR = dict(fresh=True, N=8, M=12)
CASES = {  # tiny where the codec allows: fresh small transforms; warm starts from the shipped weights otherwise
    "hyperprior": dict(TINY_HYPERPRIOR, lambdas="0.01,0.05", steps=4, stop_at=2),
    "hyperprior-msssim": dict(TINY_HYPERPRIOR, lambdas="5,30", patch=192, crop=192),  # MS-SSIM: > 160 pixels
    "hyperprior-ctx": dict(),
    "hyperprior-ctx-pf": dict(fresh=True, filter_channels=8, filter_layers=3, patch=32),
    "hyperprior-ctx-pf2": dict(init=str(aecodec.get_codec("hyperprior-ctx-pf").weights_path), filter_blocks=1,
                               patch=32),  # grows the shipped filter by a block
    "hyperprior-ctx-pf3": dict(init=str(aecodec.get_codec("hyperprior-ctx-pf2").weights_path), filter_blocks=4,
                               patch=32),
    "vqvae": dict(fresh=True),  # entropy-constrained k-means of the latents of one 64px crop
    "signal": dict(batch=64),
}


@pytest.fixture(autouse=True)
def torch_threads():
    """Runs here use --threads 1 (two busy threads on two shared cores spin-wait for each other); restore."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture
def images(tmp_path, sample_path):
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(sample_path, folder)
    return folder


def run_options(tmp_path, images, codec, name="run", **kw):
    base = dict(codec=codec, data="" if codec == "signal" else str(images), out=str(tmp_path / name), steps=2,
                batch=1, patch=64, crop=64, lr=1e-3, warmup=1, threads=1)
    return TrainOptions(**{**base, **kw})


@pytest.mark.parametrize("codec", CASES)
def test_every_codec_trains_and_exports_weights_that_code(tmp_path, images, sample_path, codec):
    assert set(CASES) == {c.name for c in aecodec.list_codecs() if c.weights}  # imported codecs do not train
    o = run_options(tmp_path, images, codec, **CASES[codec])
    weights = train(o)
    info = aecodec.get_codec(codec)
    assert weights == tmp_path / "run" / info.weights
    prov = json.loads(weights.with_suffix(".json").read_text())
    last = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert prov["steps"] == last["step"] == 2 and prov["validation"]["final"]["step"] == 2
    assert prov["validation"]["best"]["val_loss"] == last["best_val"] and prov["cpu_seconds"] > 0
    args = shlex.split(prov["command"])
    assert args[:4] == ["aecodec", "train", "--codec", codec]
    assert TrainOptions(**vars(parser().parse_args(args[2:]))) == TrainOptions(**last["options"])
    assert (" --steps 4 --stop-at 2 " in prov["command"]) == ("stop_at" in CASES[codec])  # schedule kept
    if info.family == "hyperprior":
        assert prov["metric"] == ("ms-ssim" if codec == "hyperprior-msssim" else "mse")
    if info.base:  # the file pins the base weights it was trained on
        assert prov["base_sha256"] == file_hash(aecodec.get_codec(info.base).weights_path).hex()
    info.load("cpu", weights=weights)
    if info.kind == "array":
        a = np.cumsum(np.random.default_rng(0).normal(size=500))
        data = aecodec.encode_array(a, 0.05, codec=codec, weights=weights)
        assert np.abs(aecodec.decode_array(data, weights=weights) - a).max() <= 0.05
        return
    image = Image.open(sample_path).convert("RGB").crop((0, 0, 96, 64))
    data = aecodec.encode(image, codec=codec, weights=weights)
    assert aecodec.decode(data, weights=weights).size == image.size
    with pytest.raises(aecodec.ModelMismatchError):  # the file names its weights: the shipped ones do not fit
        aecodec.decode(data)


def test_warm_start_keeps_trained_levels_and_extrapolates_new_ones(tmp_path, images):
    first = train(run_options(tmp_path, images, "hyperprior", "two", lambdas="0.01,0.05", **TINY_HYPERPRIOR))
    init = aecodec.get_codec("hyperprior").load("cpu", weights=first).model
    o = TrainOptions(codec="hyperprior", init=str(first), lambdas="0.0025,0.01,0.05")
    model = make_task(o, CPU).build(None)
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


def test_context_run_caches_latents_and_resumes_exactly(tmp_path, images):
    def opts(name, **kw):
        return run_options(tmp_path, images, "hyperprior-ctx", name, fresh=True, width=8, hidden=8, steps=4,
                           batch=2, patch=128, crop=192, val_every=2, ckpt_every=2, **kw)
    straight = train(opts("straight"))
    assert straight.name == "hyperprior_ctx.safetensors"
    interrupted = train(opts("resumed", time_limit=1e-9))  # stops after one step: no export yet
    assert interrupted.name == "last.pt" and not (tmp_path / "resumed" / "hyperprior_ctx.safetensors").exists()
    latents = tmp_path / "resumed" / "latents.pt"
    cached = latents.stat().st_mtime_ns
    assert torch.load(interrupted, weights_only=False)["step"] == 1
    assert train(opts("resumed")) == tmp_path / "resumed" / "hyperprior_ctx.safetensors"
    assert latents.stat().st_mtime_ns == cached  # the frozen latents are computed once per run
    y = torch.load(latents, weights_only=False)["train"]
    assert y.dtype == torch.float16 and y.shape == (1, 256, 12, 12)
    a = torch.load(tmp_path / "straight" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "resumed" / "last.pt", weights_only=False)
    assert a["step"] == b["step"] == 4 and a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert a["state"]["best_val"] == b["state"]["best_val"]
    exported = [tmp_path / run / "hyperprior_ctx.safetensors" for run in ("straight", "resumed")]
    assert weights_metadata(exported[0]) == weights_metadata(exported[1])
    sa, sb = (read_tensors(path) for path in exported)
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_options_users_get_wrong_are_reported_as_aecodec_errors(tmp_path, images):
    with pytest.raises(aecodec.UnknownCodecError):
        train(run_options(tmp_path, images, "jpeg"))
    with pytest.raises(aecodec.AecError, match="add --fresh"):  # a warm start keeps its weights' shape
        train(run_options(tmp_path, images, "hyperprior", N=8))
    with pytest.raises(aecodec.AecError, match="exclude"):
        train(run_options(tmp_path, images, "hyperprior", fresh=True, init="x.safetensors"))
    with pytest.raises(aecodec.AecError, match="synthetic"):
        train(run_options(tmp_path, images, "signal", data=str(images)))
    with pytest.raises(aecodec.ModelMismatchError):  # a weights file of another codec family
        train(run_options(tmp_path, images, "hyperprior", init=str(aecodec.get_codec("signal").weights_path)))


@pytest.mark.parametrize("info", [c for c in aecodec.list_codecs() if c.weights], ids=lambda info: info.name)
def test_shipped_weights_record_the_train_commands_that_reproduce_them(info):
    prov = json.loads(info.weights_path.with_suffix(".json").read_text())
    commands = prov.get("training", prov)["command"].split(" && ")
    for line in commands:
        args = shlex.split(line)
        assert args[:2] == ["aecodec", "train"]
        o = TrainOptions(**vars(parser().parse_args(args[2:])))
        assert o.codec == info.name and command(o, o.stop_at or o.steps) == line  # as the loop writes it
    assert not TrainOptions(**vars(parser().parse_args(shlex.split(commands[0])[2:]))).init.startswith("runs/")
