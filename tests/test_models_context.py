
import torch

from aecodec.models.context import CheckerboardContext, ContextConfig, anchor_mask


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
