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



NOBODY = 65534


@pytest.fixture
def as_nobody():
    """(a world-writable scratch folder, run): ``run(args)`` -> (exit code, output) of the command line run as an
    unprivileged user in a forked child, for permission cases that root, which may read and write anything,
    cannot show. Forked, so the child needs nothing it would have to read from disk as that user."""
    import json
    import select
    import signal
    import tempfile

    from click.testing import CliRunner

    from aecodec.cli.main import main

    if os.geteuid() != 0:
        pytest.skip("needs root to run a command as another user")
    folder = Path(tempfile.mkdtemp(prefix="aecodec-nobody-"))
    folder.chmod(0o777)
    # the child may not read what Python has still to import (the interpreter's own library may lie under a
    # private home): run the commands once here, so that it imports nothing
    Image.init()
    warm = folder / "warm"
    (warm / "in").mkdir(parents=True)
    noise_image(32, 32).save(warm / "in" / "w.png")
    for args in (["encode", warm / "in", "-o", warm / "in", "-q", "1"], ["decode", warm / "in" / "w.aec", "-o",
                 warm / "w.png"], ["info", warm / "in" / "w.aec"], ["encode", warm / "in" / "w.png", "-o",
                 warm / "w.aec"]):
        assert CliRunner().invoke(main, [str(a) for a in args]).exit_code == 0
    shutil.rmtree(warm)

    def run(args: list[str]) -> tuple[int, str]:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: drop root, run, report, and leave without any cleanup of the parent's
            try:
                os.close(read)
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
                r = CliRunner().invoke(main, args)
                report = {"code": r.exit_code, "output": r.output + (
                    repr(r.exception) if r.exception and not isinstance(r.exception, SystemExit) else "")}
            except BaseException as e:  # noqa: BLE001 - the parent reports it
                report = {"code": -1, "output": repr(e)}
            os.write(write, json.dumps(report).encode())
            os._exit(0)
        os.close(write)
        ready, _, _ = select.select([read], [], [], 120)
        if not ready:
            os.kill(pid, signal.SIGKILL)
        data = os.read(read, 1 << 20) if ready else b""
        os.close(read)
        os.waitpid(pid, 0)
        assert data, f"{args} did not finish in 120 s"
        report = json.loads(data)
        return report["code"], report["output"]

    yield folder, run
    shutil.rmtree(folder, ignore_errors=True)
