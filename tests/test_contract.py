"""The declared seams: every shipped image codec is an ``ImageCodec`` whose latent coder is a ``LatentCoder``
with the stream count the registry declares for it."""
import pytest

import aecodec
from aecodec.contract import ImageCodec, LatentCoder

SHIPPED = [c.name for c in aecodec.list_codecs("image") if c.weights]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_codec_declares_its_latent_coder(name):
    codec = aecodec.load(name)
    assert isinstance(codec, ImageCodec)
    assert isinstance(codec.latents, LatentCoder)
    assert codec.stride == codec.transforms.downsampling * codec.latents.downsampling


@pytest.mark.parametrize("name", SHIPPED)
def test_every_coded_tile_has_the_stream_count_the_registry_declares(name):
    import numpy as np

    from aecodec.format.container import unpack

    info = aecodec.get_codec(name)
    image = np.random.default_rng(3).integers(0, 256, (40, 56, 3), dtype=np.uint8)  # noise: coded, not stored exactly
    c = unpack(aecodec.encode(image, codec=name))
    assert len(c.streams) == info.streams + 1  # the tile's streams, then the check stream


@pytest.mark.parametrize("name", [n for n in SHIPPED if not aecodec.get_codec(n).effort])
def test_a_coder_without_refinement_refuses_a_refine_hook(name):
    import torch

    latents = aecodec.load(name).latents
    y = torch.zeros(1, 3, 8, 8)
    with pytest.raises(ValueError, match="no latent refinement"):
        latents.encode(y, 96, refine=lambda b, y_g, z: (y_g, z))
