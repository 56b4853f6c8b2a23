"""Golden bitstreams of the shipped weights, committed with the pixels they decoded to when written.

They catch format drift (a reader that no longer parses them), and on any other machine they check that parsing
is exact: the content check inside each file fails unless every symbol decodes as the encoder wrote it.
Regenerate only on purpose, when the weights or the format change.
"""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import aecodec

DATA = Path(__file__).parent / "data"
GOLDEN = json.loads((DATA / "golden.json").read_text())


@pytest.mark.parametrize("codec", sorted(GOLDEN["weights_sha256"]))
def test_golden_files_belong_to_the_shipped_weights(codec):
    w = aecodec.get_codec(codec).weights_path
    assert hashlib.sha256(w.read_bytes()).hexdigest() == GOLDEN["weights_sha256"][codec]


@pytest.mark.parametrize("name", sorted(GOLDEN["files"]))
def test_golden_bitstream_decodes(name):
    data = (DATA / name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == GOLDEN["files"][name]["sha256"]
    out = np.asarray(aecodec.decode(data), dtype=int)
    ref = np.asarray(Image.open(DATA / name.replace(".aec", ".png")), dtype=int)
    # synthesis is floating point: another CPU may round a few pixels the other way
    assert np.abs(out - ref).max() <= 2 and (out != ref).mean() < 0.01


def test_encoder_rate_matches_golden():
    """The encoder may pick a few other symbols on another CPU (float analysis); the rate stays within 1%."""
    data = aecodec.encode(DATA / "sample.png", codec="hyperprior", quality=6)
    golden = (DATA / "golden_q6.aec").read_bytes()
    assert len(data) == pytest.approx(len(golden), rel=0.01)
