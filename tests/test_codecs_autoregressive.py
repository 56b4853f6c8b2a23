"""The wavefront latent pass: a schedule that respects every causal dependency, the same symbols and means as
visiting one position at a time in raster order, exact round trips through the coder, and an integer context
model that computes CompressAI's float entropy parameters up to fixed-point rounding."""
import pytest
import torch
import torch.nn.functional as F
from compressai.models import JointAutoregressiveHierarchicalPriors

from aecodec.codecs.autoregressive import wavefronts
from aecodec.codecs.imported import import_compressai, load
from aecodec.codecs.latents import symbols_of
from aecodec.coding.fixedpoint import ACT_LIMIT, FRAC_A, IntContextModel, causal_taps, to_fixed


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """An untrained mbt2018(N=8, M=12) with its context weights scaled up (so the context visibly moves the
    means), as CompressAI has it and as imported here."""
    root = tmp_path_factory.mktemp("mbt")
    torch.manual_seed(0)
    net = JointAutoregressiveHierarchicalPriors(8, 12).eval()
    with torch.no_grad():
        net.context_prediction.weight.mul_(8 * net.context_prediction.mask)
    torch.save(net.state_dict(), root / "mbt.pth")
    w = import_compressai(root / "mbt.pth", "mbt2018", root / "mbt.safetensors")
    return net, load(w)


def _side(codec, h: int, w: int):
    z = torch.randint(-3, 4, (1, 8, h // 4, w // 4), generator=torch.Generator().manual_seed(1))
    return codec.latents.hyper.side(z, 16)


def test_wavefronts_visit_every_position_once_after_its_causal_neighbours():
    h, w = 5, 7
    steps = wavefronts(h, w, 3)
    assert len(steps) == 3 * (h - 1) + w
    step_of = {}
    for t, pos in enumerate(steps):
        for p in pos.tolist():
            step_of[divmod(p, w)] = t
    assert sorted(step_of) == [(i, j) for i in range(h) for j in range(w)]
    for (i, j), t in step_of.items():
        for di, dj in causal_taps(5):
            n = (i + di - 2, j + dj - 2)
            if n in step_of:
                assert step_of[n] < t, ((i, j), n)


def test_the_wavefront_pass_computes_what_a_raster_order_loop_computes(imported):
    _, codec = imported
    latent_pass, hyper = codec.latents.latent_pass, codec.latents.hyper
    model = latent_pass.model
    h, w = 8, 12
    side = _side(codec, h, w)
    y_g = 3 * torch.randn(1, 12, h, w, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    symbols, means = latent_pass.quantize(y_g, side, 16)

    decoded = torch.zeros(12, h + 4, w + 4, dtype=torch.int64)
    ref_symbols, ref_means = torch.zeros_like(symbols), torch.zeros_like(means)
    no_context = torch.zeros_like(means)
    for i in range(h):
        for j in range(w):
            cols = torch.stack([decoded[:, i + di, j + dj] for di, dj in model.taps]).reshape(-1, 1)
            acc = model.hyper_part(side.params[0][:, i, j, None])
            for context, out in ((cols, ref_means), (torch.zeros_like(cols), no_context)):
                scale, mean = model(context, acc).chunk(2)
                out[0, :, i, j] = hyper.gained(torch.cat([mean, scale])[None], 16)[1][0, :, 0]
            s = symbols_of(y_g[0, :, i, j, None], ref_means[0, :, i, j, None])
            ref_symbols[0, :, i, j] = s[:, 0]
            decoded[:, i + 2, j + 2] = (s[:, 0] * (1 << FRAC_A) + ref_means[0, :, i, j]).clamp(-ACT_LIMIT, ACT_LIMIT)
    assert torch.equal(symbols, ref_symbols) and torch.equal(means, ref_means)
    assert (means != no_context).float().mean() > 0.9  # the decoded neighbours do move the means


def test_code_then_parse_gives_back_the_symbols_and_means(imported):
    _, codec = imported
    latent_pass, coder = codec.latents.latent_pass, codec.latents.coder
    side = _side(codec, 8, 12)
    y_g = 4 * torch.randn(1, 12, 8, 12, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    stream, symbols = latent_pass.code(y_g, side, 16, coder)
    parsed, means = latent_pass.parse(stream, side, 16, coder)
    assert torch.equal(parsed, symbols) and torch.equal(means, latent_pass.quantize(y_g, side, 16)[1])
    assert symbols.abs().sum() > 0


def test_integer_context_model_matches_compressai_float_entropy_parameters(imported):
    net, codec = imported
    model = codec.latents.latent_pass.model
    g = torch.Generator().manual_seed(4)
    y_hat = torch.randn(1, 12, 6, 9, generator=g) * 3
    params = torch.randn(1, 24, 6, 9, generator=g)
    with torch.no_grad():
        ctx = F.conv2d(y_hat, net.context_prediction.weight * net.context_prediction.mask,
                       net.context_prediction.bias, padding=2)
        ref = net.entropy_parameters(torch.cat([params, ctx], 1))[0].reshape(24, -1)
    fixed = F.pad(to_fixed(y_hat, FRAC_A)[0], (2, 2, 2, 2))
    cols = torch.stack([fixed[:, di:di + 6, dj:dj + 9].reshape(12, -1) for di, dj in model.taps])
    mine = model(cols.reshape(-1, 54), model.hyper_part(to_fixed(params, FRAC_A)[0].reshape(24, -1)))
    err = (mine.double() / (1 << FRAC_A) - ref.double()).abs()
    assert err.max() < 2e-3 * (1 + ref.abs().max())


def test_a_context_model_with_weights_outside_its_mask_is_refused(imported):
    _, codec = imported
    tensors, specs = codec.latents.latent_pass.model.tensors("c")
    tensors["c.context.0.weight"] = tensors["c.context.0.weight"].clone()
    tensors["c.context.0.weight"][0, 0, 2, 2] = 1  # the position being decoded
    with pytest.raises(ValueError, match="outside its causal mask"):
        IntContextModel.from_tensors("c", tensors, specs)


def _reference_entropy_parameters(model, cols: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """The integer context model by plain int64 products, one position: cols [taps, C], params [2M]."""
    acc = sum(model.context.weight[:, :, di, dj] @ cols[t] for t, (di, dj) in enumerate(model.taps))
    x = model.context.finish(acc[None, :, None], model.context.bias)[0]
    x = torch.cat([params.clamp(-ACT_LIMIT, ACT_LIMIT)[:, None], x])
    for layer in model.ep:
        x = layer.finish((layer.weight[:, :, 0, 0] @ x)[None], layer.bias)[0]
    return x[:, 0]


def test_a_published_width_context_model_gives_the_symbols_of_plain_integer_products(tmp_path):
    """M=320 and 12 taps, as CompressAI publishes mbt2018: the wavefront pass's digit products give the same
    symbols and means as int64 products visited in raster order."""
    torch.manual_seed(5)
    net = JointAutoregressiveHierarchicalPriors(16, 320).eval()
    torch.save(net.state_dict(), tmp_path / "mbt.pth")
    codec = load(import_compressai(tmp_path / "mbt.pth", "mbt2018", tmp_path / "mbt.safetensors"))
    latent_pass, hyper = codec.latents.latent_pass, codec.latents.hyper
    model = latent_pass.model
    assert model.tap_product.in_features == 320 * 12
    h, w = 4, 8
    z = torch.randint(-20, 21, (1, 16, 1, 2), generator=torch.Generator().manual_seed(1))
    side = hyper.side(z, 16)
    y_g = 40 * torch.randn(1, 320, h, w, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    symbols, means = latent_pass.quantize(y_g, side, 16)
    decoded = torch.zeros(320, h + 4, w + 4, dtype=torch.int64)
    for i in range(h):
        for j in range(w):
            cols = torch.stack([decoded[:, i + di, j + dj] for di, dj in model.taps])
            scale, mean = _reference_entropy_parameters(model, cols, side.params[0][:, i, j]).chunk(2)
            mean = hyper.gained(torch.cat([mean, scale])[None, :, None], 16)[1][0, :, 0]
            s = symbols_of(y_g[0, :, i, j], mean)
            assert torch.equal(symbols[0, :, i, j], s) and torch.equal(means[0, :, i, j], mean), (i, j)
            decoded[:, i + 2, j + 2] = (s * (1 << FRAC_A) + mean).clamp(-ACT_LIMIT, ACT_LIMIT)
    assert decoded.abs().max() >= 1 << 14  # three digits and more: every digit product is exercised
