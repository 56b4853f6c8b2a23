"""Linear wavelet shortcuts: the Haar pair is orthonormal and exactly inverted, and a model with the shortcuts
trains, exports and codes like the plain one."""
import torch

import torch.nn.functional as F

from aecodec.models.auxt import haar, inverse_haar, linear_analysis, linear_synthesis
from aecodec.models.hyperprior import Hyperprior, HyperpriorConfig
from aecodec.codecs.hyperprior import export as export_hyperprior, load as load_hyperprior


def test_haar_is_orthonormal_and_exactly_inverted():
    x = torch.randn(2, 3, 8, 12, dtype=torch.float64)
    w = haar(x)
    assert w.shape == (2, 12, 4, 6)
    assert torch.allclose((w ** 2).sum(), (x ** 2).sum())  # energy preserved (Parseval)
    assert torch.allclose(inverse_haar(w), x)
    block = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)[None, None]
    # LL = sum / 2, LH = (top - bottom) / 2, HL = (left - right) / 2, HH = (diagonal - antidiagonal) / 2
    assert torch.allclose(haar(block).flatten(), torch.tensor([5.0, -2.0, -1.0, 0.0], dtype=torch.float64))
    # the same as the textbook filter bank: a depthwise stride-2 convolution with the four 2x2 Haar kernels
    k = torch.tensor([[[1, 1], [1, 1]], [[1, 1], [-1, -1]], [[1, -1], [1, -1]], [[1, -1], [-1, 1]]]) / 2
    ref = F.conv2d(x, k[:, None].repeat(3, 1, 1, 1).double(), stride=2, groups=3)
    assert torch.allclose(w, ref)


def test_fused_stages_equal_haar_scale_projection():
    from aecodec.models.auxt import HaarDown, HaarUp

    torch.manual_seed(0)
    down, up = HaarDown(3, 5), HaarUp(5, 3)
    with torch.no_grad():
        down.scale.uniform_(0.5, 2)
        up.scale.uniform_(0.5, 2)
    x = torch.randn(2, 3, 8, 8)
    assert torch.allclose(down(x), down.proj(haar(x) * down.scale), atol=1e-5)
    y = torch.randn(2, 5, 4, 4)
    assert torch.allclose(up(y), inverse_haar(up.proj(y) * up.scale), atol=1e-5)


def test_linear_branches_start_as_norm_preserving_maps():
    """Orthogonal projections and unit scales: at initialisation the analysis branch keeps the energy of its
    input when it does not shrink the channel count, and synthesis inverts analysis when widths mirror."""
    torch.manual_seed(0)
    a, s = linear_analysis([3, 16, 64]), linear_synthesis([64, 16, 3])
    x = torch.randn(1, 3, 16, 16)
    y = a(x)
    assert y.shape == (1, 64, 4, 4)
    assert torch.allclose((y ** 2).sum(), (x ** 2).sum(), rtol=1e-4)
    with torch.no_grad():  # tie synthesis to the transposes of the analysis projections: then it is the inverse
        for down, up in zip(a, reversed(s)):
            up.proj.weight.copy_(down.proj.weight.transpose(0, 1))
    assert torch.allclose(s(y), x, atol=1e-4)


def test_model_with_shortcuts_trains_exports_and_codes(tmp_path):
    torch.manual_seed(0)
    cfg = HyperpriorConfig(N=8, M=12, lambdas=(0.01, 0.05), aux_transform=True)
    model = Hyperprior(cfg)
    x = torch.rand(2, 3, 64, 64)
    out = model(x, torch.tensor([0, 1]))
    out["x_hat"].square().mean().backward()
    assert model.aux_a[0].proj.weight.grad.abs().sum() > 0 and model.aux_s[-1].scale.grad.abs().sum() > 0
    path = export_hyperprior(model.state_dict(), cfg, tmp_path / "auxt.safetensors")
    codec = load_hyperprior(path)
    assert codec.model.config.aux_transform
    img = torch.rand(1, 3, 64, 64)
    streams, digests = codec.compress(img, 1 << 16)
    a = codec.decompress(streams, 64, 64, 1 << 16, digests)
    b = codec.decompress(streams, 64, 64, 1 << 16, digests)
    assert a.shape == img.shape and torch.equal(a, b)
