"""aecodec import compressai: CompressAI zoo architectures, trained a few steps here (no download), imported and
coded through the contract; rate and PSNR against CompressAI's own compress/decompress; clean refusals."""
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from compressai.models import (
    Cheng2020Anchor,
    Cheng2020Attention,
    FactorizedPrior,
    JointAutoregressiveHierarchicalPriors,
    MeanScaleHyperprior,
    ScaleHyperprior,
)
from PIL import Image

import aecodec
from aecodec.cli.main import main
from aecodec.codecs.imported import import_compressai
from aecodec.contract import ImageCodec
from aecodec.errors import ModelMismatchError
from aecodec.eval.specs import parse_spec
from aecodec.format.container import unpack

pytestmark = pytest.mark.slow

ARCHS = {"mbt2018-mean": MeanScaleHyperprior, "bmshj2018-hyperprior": ScaleHyperprior,
         "bmshj2018-factorized": FactorizedPrior, "mbt2018": JointAutoregressiveHierarchicalPriors,
         "cheng2020-anchor": Cheng2020Anchor, "cheng2020-attn": Cheng2020Attention}
AUTOREGRESSIVE = ("mbt2018", "cheng2020-anchor", "cheng2020-attn")


def _photo(sample_path) -> tuple[Image.Image, torch.Tensor]:
    im = Image.open(sample_path).convert("RGB")
    return im, torch.from_numpy(np.array(im)).permute(2, 0, 1)[None].float() / 255


def _trained(arch: str, x: torch.Tensor) -> torch.nn.Module:
    """A small model of ``arch`` trained a few RD steps on crops of the sample, so that its entropy models are
    not degenerate (uniform quantiles would make every rate the same). The joint autoregressive models learn
    more slowly: more, gentler steps."""
    torch.manual_seed(0)
    net = ARCHS[arch](16) if arch.startswith("cheng2020") else ARCHS[arch](24, 32)
    steps, lr = (120, 1e-3) if arch in AUTOREGRESSIVE else (40, 2e-3)
    main_params = [p for n, p in net.named_parameters() if not n.endswith("quantiles")]
    opt = torch.optim.Adam(main_params, lr)
    aux = torch.optim.Adam([p for n, p in net.named_parameters() if n.endswith("quantiles")], 5e-2)
    for i in range(steps):
        xb = x[..., (i % 3) * 64:(i % 3) * 64 + 64, (i % 5) * 64:(i % 5) * 64 + 64]  # 64-pixel crops: quick
        out = net(xb)
        bpp = sum(-lik.log2().sum() for lik in out["likelihoods"].values()) / xb[0, 0].numel()
        loss = 0.02 * 255**2 * (out["x_hat"] - xb).pow(2).mean() + bpp
        opt.zero_grad()
        aux.zero_grad()
        loss.backward()
        net.aux_loss().backward()
        opt.step()
        aux.step()
    return net.eval()


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    """arch -> (trained CompressAI net, its checkpoint path), checkpoints as torch.save(net.state_dict())."""
    root = tmp_path_factory.mktemp("compressai")
    _, x = _photo(Path(__file__).parent / "data" / "sample.png")
    out = {}
    for arch in ARCHS:
        net = _trained(arch, x)
        path = root / f"{arch}.pth.tar"
        torch.save(net.state_dict(), path)
        out[arch] = (net, path)
    return out


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / ((a.astype(float) - b.astype(float)) ** 2).mean()))


@pytest.mark.parametrize("arch", list(ARCHS))
def test_same_rate_and_pixels_as_compressai_and_thread_invariant(arch, models, tmp_path, sample_path):
    net, ckpt = models[arch]
    w = import_compressai(ckpt, arch, tmp_path / "w.safetensors")
    codec = aecodec.load(weights=w)
    assert isinstance(codec, ImageCodec)
    im, x = _photo(sample_path)  # 384x256: a multiple of 64, no padding on either side
    data = aecodec.encode(im, weights=w)
    assert len(unpack(data).streams) == (1 if arch == "bmshj2018-factorized" else 2) + 1  # and the check stream
    mine = np.asarray(aecodec.decode(data, weights=w))
    net.update(force=True)
    with torch.no_grad():
        c = net.compress(x)
        ref = net.decompress(c["strings"], c["shape"])["x_hat"]
    theirs = (ref[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    their_bytes = sum(len(s[0]) for s in c["strings"])
    assert their_bytes < len(data) <= 1.03 * their_bytes + 64
    original = np.asarray(im)
    assert abs(_psnr(original, mine) - _psnr(original, theirs)) < 0.05
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = np.asarray(aecodec.decode(data, weights=w))
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(one, mine)


def test_update_buffers_training_checkpoints_and_dataparallel_prefixes_import_alike(models, tmp_path):
    net, ckpt = models["mbt2018-mean"]
    plain = import_compressai(ckpt, "mbt2018-mean", tmp_path / "a.safetensors")
    net.update(force=True)
    wrapped = {"epoch": 3, "state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}}
    torch.save(wrapped, tmp_path / "checkpoint.pth.tar")
    other = import_compressai(tmp_path / "checkpoint.pth.tar", "mbt2018-mean", tmp_path / "b.safetensors")
    from safetensors.torch import load_file

    a, b = load_file(str(plain)), load_file(str(other))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads(plain.with_suffix(".json").read_text())["source_sha256"] == \
        hashlib.sha256(ckpt.read_bytes()).hexdigest()


def test_refuses_what_it_cannot_import(models, tmp_path):
    _, ckpt = models["mbt2018-mean"]
    with pytest.raises(ModelMismatchError, match="not a bmshj2018-hyperprior checkpoint"):
        import_compressai(ckpt, "bmshj2018-hyperprior", tmp_path / "w.safetensors")
    broken = tmp_path / "broken.pth"
    broken.write_bytes(ckpt.read_bytes()[:1000])
    with pytest.raises(ModelMismatchError, match="not a readable PyTorch checkpoint"):
        import_compressai(broken, "mbt2018-mean", tmp_path / "w.safetensors")
    state = torch.load(ckpt, weights_only=True)
    state["h_s.0.weight"] = state["h_s.0.weight"] * 1e9  # sums far beyond 2^53 in fixed point
    torch.save(state, tmp_path / "huge.pth")
    with pytest.raises(ModelMismatchError, match="no exact integer form"):
        import_compressai(tmp_path / "huge.pth", "mbt2018-mean", tmp_path / "w.safetensors")
    torch.save({"g_a.0.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(ModelMismatchError):
        import_compressai(tmp_path / "other.pth", "mbt2018-mean", tmp_path / "w.safetensors")
    assert not (tmp_path / "w.safetensors").exists()


def test_command_line_import_encode_info_decode(models, tmp_path, sample_path):
    _, ckpt = models["bmshj2018-hyperprior"]
    w, aec, png = tmp_path / "w.safetensors", tmp_path / "s.aec", tmp_path / "s.png"
    run = CliRunner().invoke
    r = run(main, ["import", "compressai", str(ckpt), "--arch", "bmshj2018-hyperprior", "-o", str(w)])
    assert r.exit_code == 0 and "N=24 M=32" in r.output, r.output
    assert run(main, ["import", "compressai", str(ckpt), "--arch", "bmshj2018-hyperprior", "-o", str(w)]).exit_code == 7
    assert run(main, ["encode", str(sample_path), "--weights", str(w), "-o", str(aec)]).exit_code == 0
    r = run(main, ["info", str(aec), "--weights", str(w)])
    assert "CompressAI bmshj2018-hyperprior N=24 M=32" in r.output and hashlib.sha256(
        ckpt.read_bytes()).hexdigest() in r.output, r.output
    r = run(main, ["decode", str(aec), "-o", str(png)])
    assert r.exit_code == 5 and "--weights" in r.output
    assert run(main, ["decode", str(aec), "--weights", str(w), "-o", str(png)]).exit_code == 0
    assert Image.open(png).size == (384, 256)
    r = run(main, ["import", "compressai", str(ckpt), "--arch", "mbt2018-mean", "-o", str(tmp_path / "x.st")])
    assert r.exit_code == 5 and "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1


def test_benchmark_measures_a_weights_file(models, tmp_path, sample_path):
    from aecodec.eval.benchmark import _measure
    from aecodec.eval.specs import cache_key

    _, ckpt = models["bmshj2018-factorized"]
    w = import_compressai(ckpt, "bmshj2018-factorized", tmp_path / "f.safetensors")
    assert parse_spec(f"weights:{w}") == ("compressai-factorized", 0, str(w))
    assert parse_spec("hyperprior:effort1") == ("hyperprior", 1, None)
    point = _measure((f"weights:{w}", 1, str(sample_path)))
    assert point.codec == f"weights:{w}" and point.bytes > 64 and point.psnr > 5
    assert cache_key(f"weights:{w}").startswith("weights-") and "/" not in cache_key(f"weights:{w}")


@pytest.mark.parametrize("arch", ["mbt2018", "cheng2020-anchor"])
def test_parsing_depends_on_integers_only(arch, models, tmp_path, sample_path):
    """The decoded latents stay the same when every float number of the model is computed another way: at
    another thread count, on the native kernels instead of oneDNN's, and with perturbed float weights (which do
    change the pixels)."""
    from aecodec.codecs.imported import load

    _, ckpt = models[arch]
    w = import_compressai(ckpt, arch, tmp_path / "w.safetensors")
    codec = load(w)
    _, x = _photo(sample_path)
    items = codec.compress_batch(x, 16)
    latents = codec.decode_latents(items, 256, 384, 16)
    pixels = codec.synthesize(latents, 16)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert torch.equal(codec.decode_latents(items, 256, 384, 16), latents)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(codec.with_transforms(codec.transforms.native()).decode_latents(items, 256, 384, 16), latents)
    perturbed = load(w)
    with torch.no_grad():
        for p in perturbed.model.parameters():
            p.mul_(1 + 1e-3 * torch.randn_like(p))
    assert torch.equal(perturbed.decode_latents(items, 256, 384, 16), latents)
    assert not torch.equal(perturbed.synthesize(latents, 16), pixels)


def test_autoregressive_codec_tiles_rate_control_and_pillow(models, tmp_path, sample_path):
    import io

    from aecodec.errors import AecWarning
    from aecodec.ratecontrol import encode_to_target
    from aecodec.registry import CODECS, CodecInfo, register

    _, ckpt = models["mbt2018"]
    w = import_compressai(ckpt, "mbt2018", tmp_path / "w.safetensors")
    im, _ = _photo(sample_path)
    original = np.asarray(im)
    data = aecodec.encode(im, weights=w)
    whole = np.asarray(aecodec.decode(data, weights=w))
    tiled = aecodec.encode(im, weights=w, tile=256)  # a 256 and a 128 pixel wide tile
    assert aecodec.inspect(tiled).tiles == 2
    assert abs(_psnr(original, np.asarray(aecodec.decode(tiled, weights=w))) - _psnr(original, whole)) < 0.5
    assert encode_to_target(im, max_bytes=len(data), weights=w) == data
    with pytest.warns(AecWarning, match="not reachable"):
        assert encode_to_target(im, max_bytes=10, weights=w) == data
    register(CodecInfo("my-mbt2018", "compressai-autoregressive", str(w), "imported here"))
    try:
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), whole)
        buf = io.BytesIO()
        im.save(buf, format="AEC", codec="my-mbt2018")
        assert buf.getvalue() == data
    finally:
        CODECS.remove(next(c for c in CODECS if c.name == "my-mbt2018"))


def test_command_line_autoregressive_import_and_refusals(models, tmp_path, sample_path):
    _, ckpt = models["cheng2020-anchor"]
    w, aec, png = tmp_path / "w.safetensors", tmp_path / "s.aec", tmp_path / "s.png"
    run = CliRunner().invoke
    r = run(main, ["import", "compressai", str(ckpt), "--arch", "cheng2020-anchor", "-o", str(w)])
    assert r.exit_code == 0 and "N=16 M=16" in r.output, r.output
    umask = os.umask(0)
    os.umask(umask)
    assert w.stat().st_mode & 0o777 == 0o666 & ~umask  # as any file a command writes, not safetensors' 0600
    assert run(main, ["encode", str(sample_path), "--weights", str(w), "-o", str(aec)]).exit_code == 0
    r = run(main, ["info", str(aec), "--weights", str(w)])
    assert "CompressAI cheng2020-anchor N=16 M=16" in r.output, r.output
    assert run(main, ["decode", str(aec), "--weights", str(w), "-o", str(png)]).exit_code == 0
    assert Image.open(png).size == (384, 256)
    damaged = tmp_path / "damaged.pth"
    damaged.write_bytes(ckpt.read_bytes()[:-2000])
    for path, arch in ((ckpt, "cheng2020-attn"), (models["mbt2018"][1], "cheng2020-anchor"),
                       (ckpt, "mbt2018"), (damaged, "cheng2020-anchor")):
        r = run(main, ["import", "compressai", str(path), "--arch", arch, "-o", str(tmp_path / "x.st")])
        assert r.exit_code == 5 and "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1, \
            (arch, r.output)
    assert not (tmp_path / "x.st").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_autoregressive_codec_on_the_gpu_parses_what_the_cpu_wrote(models, tmp_path, sample_path):
    _, ckpt = models["cheng2020-anchor"]
    w = import_compressai(ckpt, "cheng2020-anchor", tmp_path / "w.safetensors")
    im, _ = _photo(sample_path)
    data = aecodec.encode(im, weights=w)
    cpu = np.asarray(aecodec.decode(data, weights=w)).astype(int)
    gpu = np.asarray(aecodec.decode(data, weights=w, device="cuda")).astype(int)
    assert np.abs(cpu - gpu).max() <= 2  # the same latents; the synthesis' float rounding differs
    on_gpu = aecodec.encode(im, weights=w, device="cuda")
    assert abs(_psnr(np.asarray(im), np.asarray(aecodec.decode(on_gpu, weights=w))) - _psnr(np.asarray(im), cpu)) < 0.1
