"""The one batch sampler: seeded draws, windows on a stride's grid, and paired stacks cut alike."""
import torch

from aecodec.training.batches import WindowSampler, sample_batch
from aecodec.training.crops import random_crops


def test_windows_lie_on_the_grid_and_cut_paired_stacks_alike():
    images = torch.arange(4 * 3 * 20 * 24, dtype=torch.float32).reshape(4, 3, 20, 24)
    sampler = WindowSampler(4, 20, 24, size=8, grid=4, levels=10)
    windows = sampler.draw(16, torch.Generator().manual_seed(0))
    again = sampler.draw(16, torch.Generator().manual_seed(0))
    assert torch.equal(windows.index, again.index) and windows.tops == again.tops  # seeded
    assert all(t % 4 == 0 and t + 8 <= 20 for t in windows.tops) and all(s % 4 == 0 for s in windows.lefts)
    assert windows.level.shape == (16,) and 0 <= windows.level.min() and windows.level.max() < 10
    nchw = windows.cut(images)
    nhwc = windows.cut(images.permute(0, 2, 3, 1), channels_last=True)
    assert nchw.shape == (16, 3, 8, 8) and torch.equal(nhwc.permute(0, 3, 1, 2), nchw)
    i, t, s = windows.index[0], windows.tops[0], windows.lefts[0]
    assert torch.equal(nchw[0], images[i, :, t:t + 8, s:s + 8])
    rows = WindowSampler(4).draw(3, torch.Generator().manual_seed(0))
    assert torch.equal(rows.cut(images), images[rows.index])


def test_image_batches_are_flipped_float_and_channels_last(sample_path):
    crops = random_crops([sample_path], 128, 3, seed=0)
    x = sample_batch(crops, 4, 64, torch.Generator().manual_seed(0))
    assert x.shape == (4, 3, 64, 64) and 0 <= x.min() and x.max() <= 1
    assert x.is_contiguous(memory_format=torch.channels_last)  # the faster layout for CPU convolutions
