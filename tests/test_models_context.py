import math

import pytest
import torch

from aecodec.models.context import CheckerboardContext, ContextConfig, anchor_mask, checkerboard_bits, discrete_bits
from aecodec.models.hyperprior import Hyperprior, HyperpriorConfig


def test_anchor_mask_is_a_checkerboard_with_the_corner_first():
    m = anchor_mask(3, 4)[0, 0]
    assert m.tolist() == [[True, False, True, False], [False, True, False, True], [True, False, True, False]]


def test_untrained_context_model_is_the_hyperprior_and_learns_from_its_anchors():
    """Zero last layer: the hyperprior's parameters pass through unchanged; after a few steps of fitting the
    non-anchors' means, the model predicts them from the anchors (here the non-anchors copy a neighbour)."""
    torch.manual_seed(0)
    ctx = CheckerboardContext(ContextConfig(M=4, levels=2, width=16, hidden=32, kernel=3))
    params = torch.randn(8, 8, 6, 6)
    level = torch.tensor([0, 1] * 4)
    anchor = anchor_mask(6, 6)
    y = torch.randn(8, 4, 6, 6)
    y = torch.where(anchor, y, torch.roll(y, 1, -1))  # each non-anchor repeats its left neighbour
    anchors = torch.where(anchor, y, 0)
    assert torch.equal(ctx(anchors, params, level), params)

    def err() -> torch.Tensor:
        mu = ctx(anchors, params, level)[:, :4]
        return ((mu - y) ** 2)[:, :, ~anchor[0, 0]].mean()

    before = err().item()
    opt = torch.optim.Adam(ctx.parameters(), lr=3e-3)
    for _ in range(200):
        opt.zero_grad()
        err().backward()
        opt.step()
    assert err().item() < 0.1 * before


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
