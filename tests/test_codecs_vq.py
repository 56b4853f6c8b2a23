"""The VQ-VAE codec: pairing and classes, whole qualities, and indices that survive the container exactly."""
import pytest
import torch

import aecodec
from aecodec.codecs.vq import BUCKET, classes_of, pair_vectors, unpair


def test_pairs_and_classes_follow_one_order():
    v = torch.arange(6 * 3 * 4, dtype=torch.float64).reshape(1, 6, 3, 4)
    assert torch.equal(unpair(pair_vectors(v), v.shape), v)
    idx = torch.randint(0, 64, (1, 6, 3, 4))
    cls = classes_of(idx)
    pairs = pair_vectors(idx)
    assert torch.equal(cls, pairs.max(1).values // BUCKET)


def test_whole_qualities_only_and_no_effort(sample_path):
    with pytest.raises(aecodec.UnknownCodecError, match="whole"):
        aecodec.encode(sample_path, codec="vqvae", quality=2.5)
    with pytest.raises(aecodec.UnknownCodecError, match="effort"):
        aecodec.encode(sample_path, codec="vqvae", effort=1)


def test_rate_grows_with_quality_and_files_name_their_codec(sample_path):
    sizes = [len(aecodec.encode(sample_path, codec="vqvae", quality=q)) for q in (1, 3, 5)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    assert aecodec.inspect(aecodec.encode(sample_path, codec="vqvae")).codec == "vqvae"
