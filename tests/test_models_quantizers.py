"""Codebook quantizers: gradients only where the VQ-VAE recipe puts them, the EMA formula, k-means start,
dead-code restarts, FSQ index round trips."""
import math

import pytest
import torch

from aecodec.models.quantizers import FSQ, VectorQuantizer, kmeans


def test_straight_through_and_stop_gradients_without_ema():
    torch.manual_seed(0)
    vq = VectorQuantizer(dim=3, size=5, commitment=0.25, ema=False, kmeans_init=False)
    x = torch.randn(7, 3, requires_grad=True)
    out = vq(x)
    # the reconstruction path: identity gradient to x, nothing to the codebook
    g_x, = torch.autograd.grad(out.quantized.sum(), [x], retain_graph=True)
    assert torch.equal(g_x, torch.ones_like(x))
    assert torch.autograd.grad(out.quantized.sum(), [vq.codebook], retain_graph=True, allow_unused=True)[0] is None
    # the loss: commitment reaches x with weight beta, the codebook loss reaches the codebook
    e = vq.codebook.detach()[out.indices]
    g_x, g_cb = torch.autograd.grad(out.loss, [x, vq.codebook])
    n = x.numel()
    assert torch.allclose(g_x, 0.25 * 2 * (x.detach() - e) / n, atol=1e-6)
    expect_cb = torch.zeros(5, 3).index_add_(0, out.indices, 2 * (e - x.detach()) / n)
    assert torch.allclose(g_cb, expect_cb, atol=1e-6)


def test_ema_update_matches_its_formula():
    torch.manual_seed(1)
    vq = VectorQuantizer(dim=2, size=3, decay=0.9, eps=1e-5, kmeans_init=False, dead_below=0.0)
    vq.train()
    count0, sum0 = vq.ema_count.clone(), vq.ema_sum.clone()
    x = torch.randn(10, 2)
    idx = torch.cdist(x, vq.codebook.detach()).argmin(1)
    vq(x)
    onehot = torch.nn.functional.one_hot(idx, 3).float()
    count = 0.9 * count0 + 0.1 * onehot.sum(0)
    total = 0.9 * sum0 + 0.1 * onehot.t() @ x
    n = count.sum()
    smoothed = (count + 1e-5) / (n + 3e-5) * n
    assert torch.allclose(vq.ema_count, count)
    assert torch.allclose(vq.codebook.detach(), total / smoothed[:, None], atol=1e-6)
    assert not vq.codebook.requires_grad  # EMA codebooks take no gradient


def test_kmeans_init_finds_separated_clusters():
    gen = torch.Generator().manual_seed(2)
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    x = centers.repeat(50, 1) + 0.01 * torch.randn(200, 2, generator=gen)
    vq = VectorQuantizer(dim=2, size=4)
    vq.train()
    out = vq(x)
    assert bool(vq.initialized)
    assert (out.quantized - x).abs().max() < 0.1  # every point sits on its own cluster's code
    assert math.isclose(float(out.perplexity), 4.0, rel_tol=1e-3)
    found = kmeans(x, 4, generator=gen)
    assert torch.cdist(found, centers).min(1).values.max() < 0.1


def test_dead_codes_are_restarted_on_data():
    torch.manual_seed(3)
    vq = VectorQuantizer(dim=2, size=4, kmeans_init=False, dead_below=0.5)
    vq.codebook.data = torch.tensor([[0.0, 0.0], [100.0, 100.0], [-100.0, 100.0], [100.0, -100.0]])
    vq.ema_sum.copy_(vq.codebook.data)
    vq.ema_count.copy_(torch.tensor([10.0, 0.0, 0.0, 0.0]))
    x = torch.randn(64, 2) * 0.1
    assert vq.restart_dead(x) == 3
    moved = vq.codebook.detach()[1:]
    assert (moved[:, None] == x[None]).all(-1).any(1).all()  # each restarted code is a vector of the batch
    assert vq.usage(vq.nearest(x))["used"] > 0.25


@pytest.mark.parametrize("levels", [[8, 5, 5, 5], [7, 5, 5, 5, 5], [4, 3], [2, 2, 2]])
def test_fsq_index_code_round_trip(levels):
    fsq = FSQ(levels)
    every = torch.arange(fsq.size)
    codes = fsq.codes(every)
    assert torch.equal(fsq.indices(codes * torch.floor(fsq._levels / 2)), every)
    assert len({tuple(c.tolist()) for c in codes}) == fsq.size
    z = torch.randn(100, len(levels)) * 3
    q, idx = fsq(z)
    assert torch.allclose(fsq.codes(idx), q)
    assert idx.min() >= 0 and idx.max() < fsq.size


def test_fsq_is_straight_through():
    fsq = FSQ([5, 5])
    z = torch.randn(4, 2, requires_grad=True)
    q, _ = fsq(z)
    g, = torch.autograd.grad(q.sum(), [z])
    half = torch.tensor([2.0, 2.0])
    expect = (1 - torch.tanh(z.detach()) ** 2) * half / torch.floor(torch.tensor([5.0, 5.0]) / 2)
    assert torch.allclose(g, expect, atol=1e-6)
