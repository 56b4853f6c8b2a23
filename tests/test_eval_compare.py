"""The compare-by-eye page: matched bytes, the detailed region, every codec shown, and (where Chromium is
installed, as in CI) a real headless browser that loads it with no error and moves every slider."""
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aecodec.eval import benchmark, compare
from aecodec.eval.summary import summarize


def test_detailed_region_finds_the_textured_square():
    a = np.full((128, 160), 120, np.uint8)
    a[64:96, 96:128] = np.indices((32, 32)).sum(0) % 2 * 255  # a checkerboard in a flat image
    left, top, right, bottom = compare.detailed_region(Image.fromarray(a), 32)
    assert (left, top, right, bottom) == (96, 64, 128, 96)


def test_matched_picks_the_setting_closest_to_the_target():
    pts = [benchmark.Point("jpeg", q, "a.png", 0, bpp, 30, 0.9, 0.9, 1, 0, 0)
           for q, bpp in ((10, 0.2), (50, 0.45), (90, 0.9))]
    assert compare.matched(pts, "a.png", "jpeg", 0.5).quality == 50
    assert compare.matched(pts, "a.png", "jpeg", 2.0).quality == 90
    assert compare.matched(pts, "b.png", "jpeg", 0.5) is None


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    im = Image.open(Path(__file__).parent / "data" / "sample.png").convert("RGB")
    paths = []
    for i, box in enumerate(((0, 0, 128, 96), (200, 100, 328, 196))):
        paths.append(folder / f"p{i}.png")
        im.crop(box).save(paths[-1])
    out = tmp_path_factory.mktemp("bench")
    codecs = ["jpeg", "hyperprior-ctx-pf3"]
    points = [benchmark._measure((c, q, str(p))) for c, qs in zip(codecs, ((30, 70), (2, 6))) for q in qs
              for p in paths]  # two settings each, in this process: the page needs points, not whole curves
    summary = summarize(points)
    benchmark.write_outputs(out, "two photos", paths, points, summary)
    return compare.write_page(out, paths, codecs, points, summary, 0.8), codecs


def test_page_shows_every_codec_and_every_picture_exists(page):
    path, codecs = page
    text = path.read_text()
    for codec in codecs:
        assert text.count(f"data-codec='{codec}'") == 4  # an option and a crop for each of the two photos
    sources = re.findall(r"src='([^']+)'", text)
    assert sources and all((path.parent / s).is_file() for s in sources)
    assert "http" not in text  # nothing from a network
    assert "<th></th>" not in text and text.count("class='divider'") == 2
    # the codec layer is clipped from the right, so it shows left of the divider, as the caption says
    assert "clip-path:inset(0 50% 0 0)" in text and "left of the white divider is the chosen codec" in text


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed")
def test_page_loads_in_headless_chromium_and_its_sliders_move(page):
    path, codecs = page
    run = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                          "--dump-dom", f"file://{path}#selftest"], capture_output=True, text=True, timeout=120)
    title = re.search(r"<title>([^<]*)</title>", run.stdout).group(1)
    assert title.startswith("selftest ok"), title
    assert "2 sliders moved" in title and f"{len(codecs)} codecs" in title
