"""Typed benchmark summaries: means per setting (medians for times), and results.json's shape."""
import json

import pytest

from aecodec.eval.benchmark import Point
from aecodec.eval.summary import Row, summarize


def test_rows_are_means_and_times_medians_and_the_json_keeps_its_shape():
    pts = [Point("jpeg", q, f"{i}.png", 100, 0.1 * q + i, 20 + q + i, 0.9, 0.95, 10.0, t, t)
           for q in (10, 30, 50, 70) for i, t in enumerate((1.0, 2.0, 9.0))]
    s = summarize(pts, "jpeg")
    first = s.codecs["jpeg"][0]
    assert isinstance(first, Row) and first.images == 3 and first.bpp == pytest.approx(2.0)
    assert first.psnr == pytest.approx(31.0) and first.enc_s == 2.0  # the median, not the mean 4
    data = json.loads(json.dumps(s.to_json()))
    assert set(data) == {"codecs", "bd_rate"} and set(data["bd_rate"]) == {"anchor", "psnr", "ms_ssim", "why_none"}
    assert set(data["codecs"]["jpeg"][0]) == set(Row.__dataclass_fields__)
    assert data["bd_rate"]["psnr"]["jpeg"] == pytest.approx(0, abs=1e-9)
