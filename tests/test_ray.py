"""Ray: the actors' outputs are byte-identical to encode_folder's, a rerun skips what exists, clashes are refused
before anything is written, and the map_batches callables round-trip a batch."""
import shutil

import numpy as np
import pytest

import aecodec

ray = pytest.importorskip("ray")
import aecodec.ray  # noqa: E402  (after the skip: the module needs Ray)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_encode_prefix_matches_encode_folder_and_resumes(local_ray, tmp_path, sample_path):
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    for name in ("a.png", "b.png", "sub/c.png"):
        shutil.copy(sample_path, photos / name)
    aecodec.encode_folder(photos, tmp_path / "local", codec="hyperprior", quality=2)
    report = aecodec.ray.encode_prefix(str(photos), str(tmp_path / "ray"), codec="hyperprior", quality=2, chunk=2)
    assert len(report.done) == 3 and not report.failed
    for p in (tmp_path / "local").rglob("*.aec"):
        assert (tmp_path / "ray" / p.relative_to(tmp_path / "local")).read_bytes() == p.read_bytes()
    again = aecodec.ray.encode_prefix(str(photos), str(tmp_path / "ray"), codec="hyperprior", quality=2)
    assert not again.done and len(again.skipped) == 3
    shutil.copy(sample_path, photos / "a.jpg")
    refused = aecodec.ray.encode_prefix(str(photos), str(tmp_path / "ray2"), codec="hyperprior", quality=2)
    assert refused.clash_message and not (tmp_path / "ray2").exists()
    with pytest.raises(aecodec.UnknownCodecError):
        aecodec.ray.encode_prefix(str(photos), str(tmp_path / "ray3"), codec="nope")


def test_the_map_batches_callables_round_trip_a_batch(sample_path):
    batch = {"bytes": np.array([sample_path.read_bytes()] * 2, dtype=object)}
    coded = aecodec.ray.Encoder(codec="hyperprior", quality=2)(batch)
    assert list(coded["aec"]) == [aecodec.encode(sample_path, codec="hyperprior", quality=2)] * 2
    decoded = aecodec.ray.Decoder()(coded)
    assert decoded["png"][0][:8] == b"\x89PNG\r\n\x1a\n"


def test_the_command_line_codes_a_folder_on_ray(local_ray, tmp_path, sample_path):
    from click.testing import CliRunner

    from aecodec.cli.main import main

    (tmp_path / "in").mkdir()
    for name in ("a.png", "b.png"):
        shutil.copy(sample_path, tmp_path / "in" / name)
    runner = CliRunner()
    r = runner.invoke(main, ["encode", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--engine", "ray",
                             "--codec", "hyperprior", "-q", "2"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "a.aec").read_bytes() == aecodec.encode(sample_path, codec="hyperprior", quality=2)
    r = runner.invoke(main, ["encode", str(tmp_path / "in"), "--engine", "ray"])  # no -o
    assert r.exit_code == 2 and len(r.stderr.splitlines()) == 1


def test_a_killed_worker_is_replaced_and_its_chunk_redone_with_nothing_missing_or_partial(local_ray, tmp_path,
                                                                                           sample_path):
    import threading
    import time

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(12):
        shutil.copy(sample_path, photos / f"p{i:02d}.png")
    result = {}
    run = threading.Thread(target=lambda: result.update(report=aecodec.ray.encode_prefix(
        str(photos), str(tmp_path / "out"), codec="hyperprior", quality=2, actors=2, chunk=1)))
    run.start()
    killed = 0
    for _ in range(300):  # kill one coder as soon as it has written something
        named = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
                 if a["name"].startswith("aecodec-coder-")]
        if named and any((tmp_path / "out").glob("*.aec")):
            ray.kill(ray.get_actor(named[0]), no_restart=False)
            killed = 1
            break
        time.sleep(0.05)
    run.join(timeout=300)
    assert killed and not run.is_alive()
    report = result["report"]
    assert len(report.done) == 12 and not report.failed
    want = aecodec.encode(sample_path, codec="hyperprior", quality=2)
    # every output complete, none missing (a worker killed mid-write can leave only a hidden temporary file)
    outputs = sorted(p for p in (tmp_path / "out").iterdir() if not p.name.startswith("."))
    assert [p.name for p in outputs] == [f"p{i:02d}.aec" for i in range(12)]
    assert all(p.read_bytes() == want for p in outputs)
