"""The tile plan covers an image exactly once, and windowed inference equals inference on the whole input for any
function that sees no further than its halo."""
import pytest
import torch
import torch.nn.functional as F

from aecodec.tiling import tiles, tiling_problem, windowed, with_margin


@pytest.mark.parametrize("width,height,tile", [(1, 1, 0), (1000, 700, 256), (1024, 1024, 1024), (2049, 3, 1024)])
def test_tiles_cover_every_pixel_once(width, height, tile):
    seen = torch.zeros(height, width, dtype=torch.int32)
    for top, left, h, w in tiles(width, height, tile):
        assert h > 0 and w > 0 and (tile == 0 or (h <= tile and w <= tile))
        seen[top:top + h, left:left + w] += 1
    assert bool((seen == 1).all())


def test_tiling_rules():
    assert tiling_problem(0, 100, 100) is None and tiling_problem(1024, 5000, 5000) is None
    assert "multiple of 64" in tiling_problem(1000, 5000, 5000)
    assert "too large for one tile" in tiling_problem(0, 4000, 4000)


def test_a_margin_is_clipped_at_the_image_edges():
    assert with_margin((0, 0, 10, 10), 4, 12, 30) == (0, 0, 12, 14)
    assert with_margin((8, 8, 2, 2), 4, 100, 100) == (4, 4, 14, 14)


@pytest.mark.parametrize("scale", [1, 2])
def test_windows_with_a_halo_beyond_the_reach_reproduce_the_whole_result(scale):
    torch.manual_seed(0)
    # small integers: every sum is exact, whatever order a convolution adds in
    x = torch.randint(-8, 9, (1, 2, 37, 53)).double()
    kernel = torch.randint(-8, 9, (3, 2, 5, 5)).double()  # reaches 2 positions: a halo of 3 is enough

    def f(part):
        y = F.conv2d(F.pad(part, (2, 2, 2, 2)), kernel)
        return F.interpolate(y, scale_factor=scale, mode="nearest") if scale > 1 else y

    whole = f(x)
    out = torch.full_like(whole, float("nan"))
    for top, left, y in windowed(f, x, 16, 3, scale):
        out[:, :, top:top + y.shape[-2], left:left + y.shape[-1]] = y
    assert torch.equal(out, whole)  # at the image edges a window pads as the whole input does
