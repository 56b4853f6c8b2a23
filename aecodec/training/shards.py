"""Training images from tar shards (WebDataset's layout: one tar per shard, an image per member), local or by URL
(any fsspec protocol), named by brace patterns (``data/shard-{000..099}.tar``). Shards are read as streams and
each image is cropped as it passes, so a training set need not fit a folder or memory: only its crops are kept."""
from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from ..datasets import IMAGE_SUFFIXES
from ..errors import AecError, reason


def is_shards(data: str) -> bool:
    """Whether ``--data`` names tar shards rather than a dataset, a folder or a pack."""
    return ".tar" in data and not Path(data).is_dir()


def shard_urls(pattern: str) -> list[str]:
    """The shards a brace pattern names, in order."""
    from braceexpand import braceexpand

    return list(braceexpand(pattern))


def shard_images(pattern: str) -> Iterator[tuple[str, bytes]]:
    """(``shard/member`` name, encoded image) of every image member of every shard, streamed in order."""
    import fsspec

    for url in shard_urls(pattern):
        try:
            with fsspec.open(url, "rb") as f, tarfile.open(fileobj=f, mode="r|*") as tar:
                for member in tar:
                    if member.isfile() and PurePosixPath(member.name).suffix.lower() in IMAGE_SUFFIXES:
                        yield f"{PurePosixPath(url).name}/{member.name}", tar.extractfile(member).read()
        except FileNotFoundError:
            raise AecError(f"no such shard: {url}") from None
        except (tarfile.TarError, OSError) as e:
            raise AecError(f"cannot read shard {url}: {reason(e)}") from None
