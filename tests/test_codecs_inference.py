"""The decoder's fast CPU path: the same function as the modules, the same pixels at any thread count."""
import hashlib

import pytest
import torch

import aecodec
from aecodec.codecs import inference

pytestmark = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="needs oneDNN")


@pytest.fixture(scope="module")
def model():
    return aecodec.load("hyperprior").model


def test_matches_the_modules(model):
    y = torch.randn(2, 256, 5, 7)
    x = torch.rand(1, 3, 80, 112)
    with torch.no_grad():
        assert torch.allclose(inference.FastSequential(model.g_s)(y), model.g_s(y), atol=1e-4)
        assert torch.allclose(inference.FastSequential(model.g_a)(x), model.g_a(x), atol=1e-4)


@pytest.mark.parametrize("shape", [(1, 256, 1, 1), (1, 256, 2, 3), (2, 256, 4, 3), (1, 256, 20, 60)])
def test_same_output_at_any_thread_count_and_batch(model, shape):
    """Tiny shapes included: PyTorch's own dispatch would send them to thread-dependent GEMM kernels."""
    fast = inference.FastSequential(model.g_s)
    y = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    before = torch.get_num_threads()
    try:
        digests = set()
        for t in (1, 2, 3):
            torch.set_num_threads(t)
            digests.add(hashlib.sha256(fast(y).numpy().tobytes()).hexdigest())
    finally:
        torch.set_num_threads(before)
    assert len(digests) == 1
    assert all(torch.equal(fast(y[i:i + 1])[0], fast(y)[i]) for i in range(shape[0]))


def test_refuses_layers_without_a_fast_form():
    assert not inference.supported(torch.nn.Sequential(torch.nn.ConvTranspose2d(4, 4, 3, stride=2)))
    with pytest.raises(ValueError):
        inference.FastSequential(torch.nn.Sequential(torch.nn.Conv2d(4, 4, 3, groups=2)))


@pytest.mark.parametrize("shape", [(1, 16, 1, 1), (1, 16, 3, 5), (2, 16, 12, 20)])
def test_residual_networks_run_on_the_forward_kernels_alike_at_any_thread_count(shape):
    """Networks with their own forward (cheng2020's residual and attention blocks) under onednn_convolutions:
    the modules' function, and the same bits at 1, 2 and 3 threads and batched or not."""
    from aecodec.models.residual import synthesis

    torch.manual_seed(0)
    g_s = synthesis(16, attention=True).eval()
    assert inference.tree_supported(g_s)
    assert not inference.tree_supported(torch.nn.Sequential(torch.nn.ConvTranspose2d(4, 4, 5, 2)))
    y = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    before = torch.get_num_threads()
    try:
        with torch.no_grad():
            plain = g_s(y)
            digests = set()
            for t in (1, 2, 3):
                torch.set_num_threads(t)
                with inference.onednn_convolutions():
                    out = g_s(y)
                    single = [g_s(y[i:i + 1])[0] for i in range(shape[0])]
                digests.add(hashlib.sha256(out.contiguous().numpy().tobytes()).hexdigest())
                assert all(torch.equal(s, o) for s, o in zip(single, out))
    finally:
        torch.set_num_threads(before)
    assert len(digests) == 1 and torch.allclose(out, plain, atol=1e-4)
