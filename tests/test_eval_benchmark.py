import json

import pytest

from aecodec.eval.benchmark import run_points, write_outputs
from aecodec.eval.summary import summarize
from tests.conftest import noise_image


@pytest.fixture
def images(tmp_path):
    paths = []
    for i, size in enumerate([(96, 64), (64, 80)]):
        p = tmp_path / "imgs" / f"im{i}.png"
        p.parent.mkdir(exist_ok=True)
        noise_image(*size, seed=i).save(p)
        paths.append(p)
    return paths


def test_results_schema_cache_and_bd(images, tmp_path):
    out = tmp_path / "out"
    points = run_points(images, ["jpeg", "webp", "hyperprior"], out)
    assert len(points) == 2 * (12 + 12 + 10)
    summary = summarize(points, "jpeg")
    write_outputs(out, "tiny", images, points, summary)
    res = json.loads((out / "results.json").read_text())
    assert res["dataset"] == "tiny" and res["images"] == ["im0.png", "im1.png"]
    row = res["codecs"]["hyperprior"][0]
    assert {"quality", "bpp", "psnr", "ssim", "ms_ssim", "ratio", "enc_s", "dec_s"} <= set(row)
    assert res["bd_rate"]["anchor"] == "jpeg" and res["bd_rate"]["psnr"]["jpeg"] == pytest.approx(0, abs=1e-9)
    assert (out / "per_image.csv").read_text().count("\n") == len(points) + 1
    assert (out / "rd_psnr.png").stat().st_size > 1000
    # a second run finds every point in the cache
    again = run_points(images, ["jpeg"], out)
    assert [p.bytes for p in again] == [p.bytes for p in points if p.codec == "jpeg"]
    # a point cached with other fields (an older aecodec) is measured again, not misread
    stale = next((out / "cache").rglob("*.json"))
    old = json.loads(stale.read_text())
    stale.write_text(json.dumps({k: v for k, v in old.items() if k != "ssim"} | {"lpips": 0.1}))
    third = run_points(images, ["jpeg"], out)
    assert sorted(p.bytes for p in third) == sorted(p.bytes for p in again)
    fresh = json.loads(stale.read_text())
    assert set(fresh) == set(old) and fresh["bytes"] == old["bytes"] and fresh["ssim"] == old["ssim"]


def test_each_codec_keeps_one_style_and_the_table_aligns():
    import aecodec
    from aecodec.eval.baselines import BASELINES
    from aecodec.eval.benchmark import style_of
    from aecodec.eval.summary import BDRates, Summary, bd_table

    names = list(BASELINES) + [c.name for c in aecodec.list_codecs("image") if c.weights]
    styles = [style_of(n) for n in names]
    assert len(set(styles)) == len(styles)  # no two known codecs look alike
    assert style_of("hyperprior:effort1") == style_of("hyperprior:effort1")  # stable for any name
    bd = BDRates("jpeg", {"psnr": {"jpeg": 0.0, "a-very-long-codec-name:effort3": -12.5},
                          "ms_ssim": {"jpeg": 0.0, "a-very-long-codec-name:effort3": -20.25}}, {})
    rows = bd_table(Summary({}, bd)).splitlines()[1:]
    assert len({len(r) for r in rows}) == 1
    assert rows[2].split() == ["a-very-long-codec-name:effort3", "-12.5%", "-20.2%"]


def test_a_curve_without_a_bd_rate_says_why_and_imported_models_get_styles_of_their_own():
    from aecodec.eval.benchmark import BASELINES, Point, style_of
    from aecodec.eval.metrics import ms_ssim_db
    from aecodec.eval.summary import bd_table, summarize
    from aecodec.registry import list_codecs

    points = [Point("jpeg", q, "a.png", 100 * q, 0.1 * q, 20 + q, 0.9, 1 - 0.1 / q, 10.0, 0.01, 0.01)
              for q in (10, 30, 50, 70, 90)]
    points.append(Point("weights:w.safetensors", 1, "a.png", 300, 0.3, 28.0, 0.9, 0.97, 10.0, 0.1, 0.1))
    summary = summarize(points, "jpeg")
    table = bd_table(summary)
    assert "weights:w.safetensors" in table and "n/a" in table and "1 setting (a BD-rate needs 4" in table
    assert abs(summary.bd_rate["psnr"]["jpeg"]) < 1e-9
    known = {style_of(c) for c in list(BASELINES) + [c.name for c in list_codecs("image") if c.weights]}
    assert style_of("weights:w.safetensors") not in known and style_of("hyperprior:effort1") not in known
    assert abs(ms_ssim_db(0.99) - 20.0) < 1e-9 and abs(ms_ssim_db(0.999) - 30.0) < 1e-9
