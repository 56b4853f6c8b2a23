"""Shared fixtures: small synthetic images and the sample photo that ships in the repo."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

DATA = Path(__file__).parent / "data"
KODAK = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "kodak"


@pytest.fixture
def sample_path() -> Path:
    return DATA / "sample.png"


def noise_image(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    """A smooth-plus-noise image: compressible like a photo, deterministic."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([(xx * 3 + yy) % 256, (yy * 2) % 256, (xx + yy * 5) % 256], -1).astype(np.float64)
    img = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(img, "RGB").convert(mode)
