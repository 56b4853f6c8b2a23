import torch

from aecodec.models.kmeans import kmeans


def test_kmeans_finds_separated_clusters():
    gen = torch.Generator().manual_seed(2)
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    x = centers.repeat(50, 1) + 0.01 * torch.randn(200, 2, generator=gen)
    found = kmeans(x, 4, generator=gen)
    assert torch.cdist(found, centers).min(1).values.max() < 0.1
