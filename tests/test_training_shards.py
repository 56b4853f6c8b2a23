"""Training from tar shards (local files or URLs, brace patterns): the same crops as the same images in a folder,
read as a stream, and a run that trains from them."""
import io
import tarfile

import fsspec
import pytest
import torch

import aecodec
from aecodec.datasets import split
from aecodec.training.crops import image_crops, random_crops
from aecodec.training.loop import train
from aecodec.training.shards import shard_urls
from tests.conftest import noise_image
from tests.test_training_tasks import run_options


@pytest.fixture
def shards(tmp_path):
    """Two shards of five PNGs each, and the same images as a folder."""
    folder = tmp_path / "folder"
    folder.mkdir()
    for k in range(2):
        with tarfile.open(tmp_path / f"shard-{k}.tar", "w") as tar:
            for i in range(5):
                buf = io.BytesIO()
                noise_image(160, 120, seed=10 * k + i).save(buf, "PNG")
                name = f"{k:02d}{i:04d}.png"
                (folder / name).write_bytes(buf.getvalue())
                info = tarfile.TarInfo(name)
                info.size = len(buf.getvalue())
                tar.addfile(info, io.BytesIO(buf.getvalue()))
    return tmp_path, folder


def test_shards_give_the_crops_their_images_give_in_a_folder(shards):
    root, folder = shards
    pattern = str(root / "shard-{0..1}.tar")
    assert shard_urls(pattern) == [str(root / "shard-0.tar"), str(root / "shard-1.tar")]
    train_crops, val_crops = image_crops(pattern, 64, 64, 2, seed=3)
    tr, va = split(sorted(folder.glob("*.png")))
    assert torch.equal(train_crops, random_crops(tr, 64, 2, 3))
    assert torch.equal(val_crops, random_crops(va or tr[:1], 64, 2, 100))


def test_shards_by_url_train_and_a_missing_shard_is_one_line(shards, tmp_path):
    root, folder = shards
    fs = fsspec.filesystem("memory")
    for k in range(2):
        fs.pipe(f"memory://shards/shard-{k}.tar", (root / f"shard-{k}.tar").read_bytes())
    assert torch.equal(image_crops("memory://shards/shard-{0..1}.tar", 64, 64, 1, 0)[0],
                       image_crops(str(root / "shard-{0..1}.tar"), 64, 64, 1, 0)[0])
    weights = train(*run_options(tmp_path, "memory://shards/shard-{0..1}.tar", "hyperprior", fresh=True, N=8,
                                 M=8))
    assert weights.is_file()
    with pytest.raises(aecodec.AecError, match="no such shard"):
        image_crops(str(root / "shard-{0..2}.tar"), 64, 64, 1, 0)
