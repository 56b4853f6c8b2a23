"""The checkerboard codec: the hyperprior's symbols when its context model is untrained, exact round trips
when it is not, and weights that name their base."""
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import aecodec
from aecodec.codecs.checkerboard import CheckerboardPass, export
from aecodec.codecs.weights_file import file_hash
from aecodec.contract import Coded
from aecodec.errors import FormatError, ModelMismatchError
from aecodec.image import pad_to, split_image
from aecodec.models.context import CheckerboardContext, ContextConfig


def export_context(ctx, path):
    return export(ctx, file_hash(aecodec.get_codec("hyperprior").weights_path).hex(), path)


def load_context(path):
    return aecodec.load("hyperprior-ctx", weights=path)


@pytest.fixture(scope="module")
def base():
    return aecodec.load("hyperprior")


def with_context(base, ctx):
    """The hyperprior codec's parts with ``ctx``'s latent pass."""
    return base.with_latents(base.latents.with_pass(CheckerboardPass(ctx, base.latents.hyper)))


def round_trip(codec, x, q16):
    coded = codec.compress_batch(x, q16)[0]
    return coded, codec.decompress_batch([coded], *x.shape[-2:], q16)


def _image(sample_path, stride):
    x, _, _ = split_image(Image.open(sample_path))
    return pad_to(x, stride)


def test_untrained_context_codes_the_hyperprior_symbols(base, sample_path):
    cc = with_context(base, CheckerboardContext(ContextConfig(M=base.model.config.M, levels=base.levels)))
    x = _image(sample_path, base.stride)
    for q16 in (16, 16 * 5 + 7):
        ((z1, y1), d1), x1 = round_trip(base, x, q16)
        ((z2, y2), d2), x2 = round_trip(cc, x, q16)
        assert z1 == z2 and d1 == d2  # same symbols, in another order: about the same length
        assert abs(len(y1) - len(y2)) <= 8 + len(y1) // 200
        assert torch.equal(x1, x2)


def test_trained_looking_context_round_trips_exactly(base, sample_path, tmp_path):
    torch.manual_seed(0)
    ctx = CheckerboardContext(ContextConfig(M=base.model.config.M, levels=base.levels, width=16, hidden=32))
    torch.nn.init.normal_(ctx.ep[-1].weight, std=0.02)
    path = export_context(ctx, tmp_path / "ctx.safetensors")
    cc = load_context(path)
    x = _image(sample_path, base.stride)
    q16 = 16 * 3 + 8
    (streams, digests), x_hat = round_trip(cc, x, q16)
    assert torch.equal(with_context(base, ctx).decompress_batch([Coded(streams, digests)], *x.shape[-2:], q16), x_hat)
    with pytest.raises(FormatError):  # damaged non-anchor part: caught by the symbol check
        cc.decompress_batch([Coded([streams[0], streams[1][:-3] + bytes(3)], digests)], *x.shape[-2:], q16)


def test_context_weights_refuse_another_base(tmp_path):
    path = export_context(CheckerboardContext(ContextConfig(width=8, hidden=8)), tmp_path / "ctx.safetensors")
    tensors = load_file(str(path))
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    save_file(tensors, str(path), metadata={**meta, "base_sha256": "00" * 32})
    with pytest.raises(ModelMismatchError, match="trained for other hyperprior weights"):
        load_context(path)


def test_shipped_context_model_saves_bits_at_every_quality(sample_path):
    """Same pixels as the hyperprior (same transforms, same rounding up to the means) in fewer bytes."""
    for q in (1, 3.5, 6, 10):
        ctx = aecodec.encode(sample_path, codec="hyperprior-ctx", quality=q)
        hyp = aecodec.encode(sample_path, codec="hyperprior", quality=q)
        assert len(ctx) < len(hyp)


@pytest.mark.parametrize("name", ["hyperprior", "hyperprior-ctx"])
def test_quantized_gives_exactly_what_the_decoder_reconstructs(name, sample_path):
    """``quantized`` is the decoder's latent without entropy coding (for training decoder-side parts on exact
    inputs): equal to what parsing the streams gives, both codecs."""
    c = aecodec.load(name)
    x = _image(sample_path, c.stride)
    _, y = c.analyze(x)
    q16 = 16 * 4 + 3
    coded = c.compress_batch(x, q16)[0]
    assert torch.equal(c.latents.quantized(y, q16), c.latents.decode(coded, y.shape[-2:], q16))
