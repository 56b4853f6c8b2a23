"""Shared fixtures: small synthetic images and the sample photo that ships in the repo."""
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

DATA = Path(__file__).parent / "data"
KODAK = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "kodak"


@pytest.fixture
def sample_path() -> Path:
    return DATA / "sample.png"


@pytest.fixture(autouse=True)
def torch_threads():
    """Training runs in the tests use --threads 1 (two busy threads on two shared cores spin-wait for each
    other); the thread count is restored after every test."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture
def images(tmp_path, sample_path) -> Path:
    """A folder holding the sample photo: a training set of one image."""
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(sample_path, folder)
    return folder


def noise_image(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    """A smooth-plus-noise image: compressible like a photo, deterministic."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([(xx * 3 + yy) % 256, (yy * 2) % 256, (xx + yy * 5) % 256], -1).astype(np.float64)
    img = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(img, "RGB").convert(mode)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a module of over a minute on 2 cores; run first (below)")
    if os.environ.get("PYTEST_XDIST_WORKER"):  # two workers on two cores: one thread each, not two apiece
        os.environ["OMP_NUM_THREADS"] = "1"  # the CLI subprocesses the tests start
        torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    """Slow modules first: the workers (``-n 2 --dist loadfile``: a module's tests and fixtures stay on one
    worker) then finish together instead of one waiting on the README's benchmark at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
