"""One loop trains every registered codec, the task its registry family selects: a 2-step run leaves a shippable
weights file that codes and decodes, with provenance whose command rebuilds the run's options; options users get
wrong are reported as aecodec errors."""
import json
import shlex

import numpy as np
import pytest
import torch
from PIL import Image

import aecodec
from aecodec.codecs.weights_file import file_hash
from aecodec.training.flags import from_flags, parse
from aecodec.training.loop import train
from aecodec.training.options import TrainOptions
from aecodec.training.tasks import task_class
from aecodec.training.tasks.postfilter import PostFilterTask

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
    "avif-pf": dict(fresh=True, filter_channels=8, filter_layers=3, patch=32),
    "vqvae": dict(fresh=True),  # entropy-constrained k-means of the latents of one 64px crop
    "signal": dict(batch=64),
}


def run_options(tmp_path, images, codec, name="run", **kw):
    """The (loop, task) options of a tiny run, from flag values as the command line gives them."""
    base = dict(codec=codec, out=str(tmp_path / name), steps=2, batch=1, lr=1e-3, warmup=1, threads=1)
    if codec != "signal":
        base.update(data=str(images), patch=64, crop=64)
    return from_flags({**base, **kw})


@pytest.mark.parametrize("codec", CASES)
def test_every_codec_trains_and_exports_weights_that_code(tmp_path, images, sample_path, codec):
    assert set(CASES) == {c.name for c in aecodec.list_codecs() if c.weights}  # imported codecs do not train
    o, options = run_options(tmp_path, images, codec, **CASES[codec])
    weights = train(o, options)
    info = aecodec.get_codec(codec)
    assert weights == tmp_path / "run" / info.weights
    prov = json.loads(weights.with_suffix(".json").read_text())
    last = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert prov["steps"] == last["step"] == 2 and prov["validation"]["final"]["step"] == 2
    assert prov["validation"]["best"]["val_loss"] == last["best_val"] and prov["cpu_seconds"] > 0
    args = shlex.split(prov["command"])
    assert args[:4] == ["aecodec", "train", "--codec", codec]
    recorded = TrainOptions(**last["options"]), task_class(codec).Options(**last["task_options"])
    assert parse(args[2:]) == recorded  # the command rebuilds the options the checkpoint keeps
    assert (" --steps 4 --stop-at 2 " in prov["command"]) == ("stop_at" in CASES[codec])  # schedule kept
    if info.family == "hyperprior":
        assert prov["metric"] == ("ms-ssim" if codec == "hyperprior-msssim" else "mse")
    if info.base:  # the file pins the base weights it was trained on
        assert prov["base_sha256"] == file_hash(aecodec.get_codec(info.base).weights_path).hex()
    aecodec.load(codec, weights=weights)
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


def test_the_avif_filter_warm_starts_from_a_postfilter_file(tmp_path, images):
    """The pf filters' design and features: a post-filter weights file is a valid start for avif-pf's filter."""
    pf = aecodec.get_codec("hyperprior-ctx-pf").weights_path
    weights = train(*run_options(tmp_path, images, "avif-pf", init=str(pf), patch=32))
    prov = json.loads(weights.with_suffix(".json").read_text())
    start = json.loads(pf.with_suffix(".json").read_text())["training"]["config"]
    assert prov["config"] == {"blocks": 0, **start}  # files before residual blocks existed have none
    assert str(pf) in prov["init"]


def test_the_registry_family_selects_the_task(monkeypatch):
    """A new post-filter weights variant needs no edit in training: its family is enough."""
    from aecodec import registry

    shipped = aecodec.get_codec("hyperprior-ctx-pf3")
    variant = registry.CodecInfo(name="hyperprior-ctx-pf9", arch=shipped.arch, weights=shipped.weights,
                                 base=shipped.base, description="another post-filter")
    monkeypatch.setattr(registry, "CODECS", [*registry.CODECS, variant])
    assert task_class("hyperprior-ctx-pf9") is PostFilterTask
    with pytest.raises(aecodec.UnknownCodecError, match="family 'compressai'"):
        task_class("compressai-hyperprior")


def test_options_users_get_wrong_are_reported_as_aecodec_errors(tmp_path, images):
    with pytest.raises(aecodec.UnknownCodecError):
        train(*run_options(tmp_path, images, "jpeg"))
    with pytest.raises(aecodec.AecError, match="add --fresh"):  # a warm start keeps its weights' shape
        train(*run_options(tmp_path, images, "hyperprior", N=8))
    with pytest.raises(aecodec.AecError, match="exclude"):
        train(*run_options(tmp_path, images, "hyperprior", fresh=True, init="x.safetensors"))
    with pytest.raises(aecodec.AecError, match="synthetic"):
        train(*run_options(tmp_path, images, "signal", data=str(images)))
    with pytest.raises(aecodec.ModelMismatchError):  # a weights file of another codec family
        train(*run_options(tmp_path, images, "hyperprior", init=str(aecodec.get_codec("signal").weights_path)))
