import pytest
import torch
import torch.nn.functional as F

from aecodec.coding.fixedpoint import (
    ACT_LIMBS,
    ACT_LIMIT,
    FRAC_A,
    ExactMatmul,
    IntCheckerboard,
    IntHyperSynthesis,
    combine,
    int_conv2d,
    int_conv_transpose2d,
    limbs,
)
from aecodec.models.context import CheckerboardContext, ContextConfig, anchor_mask
from aecodec.models.hyperprior import Hyperprior, HyperpriorConfig


def test_limbs_are_balanced_digits_that_add_up_to_the_number():
    x = torch.tensor([0, 1, -1, 63, 64, -64, -65, 8191, -8192, ACT_LIMIT, -ACT_LIMIT, 123456789, -987654])
    d = limbs(x)
    assert d.dtype == torch.int8 and d.min() >= -64 and d.max() <= 63
    assert torch.equal(combine(d), x)
    assert limbs(torch.tensor([5, -3])).shape[0] == 1
    assert torch.equal(combine(limbs(x.clamp(-ACT_LIMIT, ACT_LIMIT), ACT_LIMBS)), x.clamp(-ACT_LIMIT, ACT_LIMIT))


@pytest.mark.parametrize("n", [1, 2, 13])
def test_the_exact_matmul_is_the_integer_product(n):
    """Digit products with int32 sums, recombined: the int64 product, also for digits handed over as a view
    (a one-column view may carry any stride)."""
    g = torch.Generator().manual_seed(n)
    w = torch.randint(-9000, 9000, (37, 640), generator=g)
    x = torch.randint(-ACT_LIMIT, ACT_LIMIT + 1, (640, n), generator=g)
    product = ExactMatmul(w)
    assert torch.equal(product(x), w @ x)
    digits = limbs(x, ACT_LIMBS).permute(1, 0, 2)  # [K, L, n], not contiguous
    assert torch.equal(product.of_digits(digits), w @ x)


def test_int_conv_matches_exact_float64():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(-500, 500, (1, 6, 7, 9), generator=g)
    w = torch.randint(-300, 300, (5, 6, 3, 3), generator=g)
    ref = F.conv2d(x.double(), w.double(), stride=2, padding=1).long()
    assert torch.equal(int_conv2d(x, w, 2, (1, 1, 1, 1)), ref)


def test_int_conv_transpose_matches_exact_float64():
    g = torch.Generator().manual_seed(1)
    x = torch.randint(-500, 500, (1, 4, 5, 6), generator=g)
    w = torch.randint(-300, 300, (4, 3, 5, 5), generator=g)
    ref = F.conv_transpose2d(x.double(), w.double(), stride=2, padding=2, output_padding=1).long()
    assert torch.equal(int_conv_transpose2d(x, w, 2, 2, 1), ref)


def test_integer_hyper_synthesis_tracks_float_and_ignores_threads():
    torch.manual_seed(0)
    model = Hyperprior(HyperpriorConfig(N=16, M=24))
    z = torch.randint(-6, 7, (1, 16, 3, 5))
    ref = model.h_s(z.float())
    hs = IntHyperSynthesis(model.h_s)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = hs(z << FRAC_A)
        torch.set_num_threads(2)
        two = hs(z << FRAC_A)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one, two)
    assert (one.double() / (1 << FRAC_A) - ref.double()).abs().max() < 0.02


def test_integer_checkerboard_tracks_float_at_the_non_anchors_and_ignores_threads():
    torch.manual_seed(1)
    ctx = CheckerboardContext(ContextConfig(M=12, levels=3, width=8, hidden=10))
    torch.nn.init.normal_(ctx.ep[-1].weight, std=0.1)
    torch.nn.init.normal_(ctx.level_bias, std=0.1)
    anchor = anchor_mask(5, 6)
    y = torch.where(anchor, torch.randn(1, 12, 5, 6) * 3, 0).round()
    params = torch.randn(1, 24, 5, 6).abs()
    ref = ctx(y, params, torch.tensor([2]))[0][:, ~anchor[0, 0]]
    ic = IntCheckerboard(ctx)
    fixed = [(t * (1 << FRAC_A)).round().long() for t in (y, params)]
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = ic(*fixed, ic.level_bias[2], ~anchor[0, 0])
        torch.set_num_threads(2)
        two = ic(*fixed, ic.level_bias[2], ~anchor[0, 0])
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one, two) and one.shape == (24, 15)
    assert (one.double() / (1 << FRAC_A) - ref.double()).abs().max() < 0.01


def test_subpixel_transposed_convolution_equals_zero_insertion_exactly():
    """The kernel-5 stride-2 fast path gives the very integers the generic zero-insertion path gives."""
    import torch.nn.functional as F

    from aecodec.coding.fixedpoint import int_conv2d, int_conv_transpose2d

    g = torch.Generator().manual_seed(0)
    x = torch.randint(-5000, 5000, (1, 6, 5, 7), generator=g)
    w = torch.randint(-3000, 3000, (6, 4, 5, 5), generator=g)
    fast = int_conv_transpose2d(x, w, 2, 2, 1)
    up = torch.zeros(1, 6, 9, 13, dtype=torch.int64)
    up[:, :, ::2, ::2] = x
    generic = int_conv2d(up, w.flip(2, 3).transpose(0, 1), 1, (2, 3, 2, 3))
    assert fast.dtype == torch.int64 and torch.equal(fast, generic)
    ref = F.conv_transpose2d(x.double(), w.double(), stride=2, padding=2, output_padding=1)
    assert torch.equal(fast, ref.round().long())
