"""The README's examples run as written: every code block marked ``<!-- test: NAME -->``."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import KODAK

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"<!-- test: (\w+) -->\n```(\w+)\n(.*?)```", re.S)


def blocks() -> dict[str, tuple[str, str]]:
    return {name: (lang, code) for name, lang, code in BLOCK.findall(README.read_text())}


@pytest.fixture
def workdir(tmp_path, sample_path):
    """A folder with photo.png and photos/ (three images), as the README assumes."""
    shutil.copy(sample_path, tmp_path / "photo.png")
    (tmp_path / "photos").mkdir()
    for name in ("a", "b", "c"):
        shutil.copy(sample_path, tmp_path / "photos" / f"{name}.png")
    return tmp_path


def run_block(name: str, cwd: Path, **extra_env: str) -> None:
    lang, code = blocks()[name]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **extra_env)
    if lang == "bash":
        cmd = ["bash", "-euo", "pipefail", "-c", code]
    else:
        cmd = [sys.executable, "-c", code]
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"README block {name!r} failed:\n{r.stderr[-3000:]}"


def test_readme_marks_the_documented_sections():
    assert {"cli", "api", "bench", "train", "arrays", "toolkit", "compressai"} <= set(blocks())


@pytest.mark.parametrize("name", ["cli", "api", "train", "arrays", "toolkit", "compressai"])
def test_readme_block_runs(name, workdir):
    run_block(name, workdir)
    if name == "cli":
        assert (workdir / "png" / "a.png").exists() and (workdir / "piped.png").stat().st_size > 0
    if name == "compressai":
        assert (workdir / "cheng.png").exists()


@pytest.mark.skipif(not KODAK.exists(), reason="needs ../shared/datasets/kodak")
def test_readme_bench_block_runs(workdir):
    # Kodak is fetched as for a user, from a mirror folder (../shared's copy) into a cache of the test's own
    run_block("bench", workdir, AECODEC_DATA_MIRROR=str(KODAK), AECODEC_DATA_DIR=str(workdir / "cache"))
    assert len(list((workdir / "cache" / "kodak").glob("*.png"))) == 24
    assert (workdir / "results" / "mine" / "rd_psnr.png").exists()
