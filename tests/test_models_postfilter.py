"""The post-filter network: the identity until trained, level conditioning between levels, residual blocks
that grow a trained filter without changing it, same at any thread count."""
import hashlib

import pytest
import torch

from aecodec.models.postfilter import PostFilter, PostFilterConfig


def _trained_like(config=PostFilterConfig(levels=4, channels=16, layers=4)) -> PostFilter:
    torch.manual_seed(0)
    f = PostFilter(config)
    with torch.no_grad():
        for p in f.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return f.eval()


def test_starts_as_the_identity():
    x = torch.rand(2, 3, 32, 48)
    assert torch.equal(PostFilter(PostFilterConfig(levels=4, channels=8, layers=3))(x, torch.tensor([0.0, 2.5])), x)


def test_fractional_levels_interpolate_the_level_bias():
    f = _trained_like()
    b = f.bias_of(torch.tensor([1.0, 1.25, 2.0, 3.0, 3.5]))
    assert torch.allclose(b[1], 0.75 * f.level_bias[1] + 0.25 * f.level_bias[2])
    assert torch.allclose(b[2], f.level_bias[2]) and torch.allclose(b[3], f.level_bias[3])
    assert torch.allclose(b[4], f.level_bias[3] + 0.5 * (f.level_bias[3] - f.level_bias[2]))  # beyond: linear


def test_changes_pixels_and_depends_on_the_level():
    f = _trained_like()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        a, b = f(x, torch.tensor([0.0])), f(x, torch.tensor([3.0]))
    assert not torch.equal(a, x) and not torch.equal(a, b)


def test_same_pixels_at_any_thread_count_and_batch():
    f = _trained_like(PostFilterConfig(levels=4, channels=48, layers=6, blocks=1))
    x = torch.rand(2, 3, 96, 1000)
    before = torch.get_num_threads()
    digests = []
    try:
        for t in (1, 2, 3):
            torch.set_num_threads(t)
            with torch.no_grad():
                y = f(x, torch.tensor([1.0, 2.0]))
            digests.append(hashlib.sha256(y.numpy().tobytes()).hexdigest())
        with torch.no_grad():
            alone = f(x[1:], torch.tensor([2.0]))
    finally:
        torch.set_num_threads(before)
    assert len(set(digests)) == 1
    assert torch.equal(alone[0], y[1])


def test_growing_adds_blocks_that_start_as_identities():
    f = _trained_like()
    grown = f.grow(2)
    assert grown.config.blocks == 2 and len(grown.blocks) == 2
    x, level = torch.rand(2, 3, 32, 48), torch.tensor([0.5, 3.0])
    with torch.no_grad():
        assert torch.equal(grown(x, level), f(x, level))
        grown.blocks[1].b.weight.add_(0.05)  # once a block has learned, it changes the output
        assert not torch.equal(grown(x, level), f(x, level))
    with pytest.raises(ValueError, match="cannot grow"):
        grown.grow(1)


def test_blocks_are_residual():
    """A block adds b(relu(a(h))) to its input: with every block's convolutions zero but a's bias, the output
    is the plain filter's (a ReLU of a bias through a zero b adds nothing)."""
    f = _trained_like(PostFilterConfig(levels=4, channels=16, layers=4, blocks=1))
    plain = PostFilter(PostFilterConfig(levels=4, channels=16, layers=4))
    plain.load_state_dict(f.state_dict(), strict=False)
    x, level = torch.rand(1, 3, 32, 32), torch.tensor([1.0])
    with torch.no_grad():
        assert not torch.equal(f(x, level), plain(x, level))
        f.blocks[0].b.weight.zero_()
        f.blocks[0].b.bias.zero_()
        assert torch.equal(f(x, level), plain(x, level))
