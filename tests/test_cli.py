import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import aecodec
from aecodec.cli.main import main

pytestmark = pytest.mark.slow


@pytest.fixture
def runner():
    return CliRunner()


def test_encode_decode_info(runner, tmp_path, sample_path):
    src = tmp_path / "photo.png"
    src.write_bytes(sample_path.read_bytes())
    r = runner.invoke(main, ["encode", str(src)])
    assert r.exit_code == 0, r.output
    aec = tmp_path / "photo.aec"
    assert aec.exists()
    r = runner.invoke(main, ["decode", str(aec), "-o", str(tmp_path / "out.png")])
    assert r.exit_code == 0 and (tmp_path / "out.png").exists()
    r = runner.invoke(main, ["info", str(aec)])
    assert r.exit_code == 0 and aecodec.get_codec(None).name in r.output and "bpp" in r.output
    r = runner.invoke(main, ["info", "--json", str(aec)])
    assert json.loads(r.output)["width"] == 384


def test_no_overwrite_without_force(runner, tmp_path, sample_path):
    out = tmp_path / "x.aec"
    out.write_bytes(b"keep")
    r = runner.invoke(main, ["encode", str(sample_path), "-o", str(out), "-q", "2"])
    assert r.exit_code == 7 and out.read_bytes() == b"keep"
    r = runner.invoke(main, ["encode", str(sample_path), "-o", str(out), "-q", "2", "--force"])
    assert r.exit_code == 0 and out.read_bytes()[:4] == b"\x89AEC"


@pytest.mark.parametrize("content,code", [(b"garbage!", 4), (None, 4)])
def test_bad_bitstreams(runner, tmp_path, sample_path, content, code):
    f = tmp_path / "bad.aec"
    if content is None:  # truncated real file
        runner.invoke(main, ["encode", str(sample_path), "-o", str(f), "-q", "1"])
        content = f.read_bytes()[:-10]
    f.write_bytes(content)
    r = runner.invoke(main, ["decode", str(f), "-o", str(tmp_path / "o.png")])
    assert r.exit_code == code
    assert "error" in r.output and "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "o.png").exists()
    assert not list(tmp_path.glob(".*part"))


def test_error_exit_codes(runner, tmp_path, sample_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    assert runner.invoke(main, ["encode", str(bad)]).exit_code == 3
    assert runner.invoke(main, ["encode", str(sample_path), "--codec", "nope", "-o", str(tmp_path / "a.aec")]
                         ).exit_code == 6
    assert runner.invoke(main, ["encode", str(sample_path), "-o", str(tmp_path / "no" / "a.aec")]).exit_code == 7
    assert runner.invoke(main, ["decode", str(tmp_path / "missing.aec")]).exit_code == 3
    assert runner.invoke(main, ["encode"]).exit_code == 2


def test_list_and_version(runner):
    r = runner.invoke(main, ["list", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)[0]["name"] == aecodec.get_codec(None).name
    assert runner.invoke(main, ["--version"]).exit_code == 0


def test_folders_keep_paths_skip_existing_and_report_bad_files(runner, tmp_path, sample_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    for name in ("a.png", "sub/b.png", "c.png"):
        (src / name).write_bytes(sample_path.read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    r = runner.invoke(main, ["encode", str(src), "-o", str(out), "-q", "2", "--jobs", "2"])
    assert r.exit_code == 0, r.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.aec")) == ["a.aec", "c.aec", "sub/b.aec"]
    (src / "bad.png").write_bytes(b"broken")
    r = runner.invoke(main, ["encode", str(src), "-o", str(out), "-q", "2"])
    assert r.exit_code == 1 and "bad.png" in r.output and "skipped 3" in r.output
    dec = tmp_path / "dec"
    dec.mkdir()
    r = runner.invoke(main, ["decode", str(out), "-o", str(dec)])
    assert r.exit_code == 0 and len(list(dec.rglob("*.png"))) == 3


def test_batched_folders_match_single_files_and_report_bad_ones(runner, tmp_path, sample_path):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        (src / name).write_bytes(sample_path.read_bytes())
    (src / "bad.png").write_bytes(b"broken")
    out, dec = tmp_path / "out", tmp_path / "dec"
    out.mkdir()
    dec.mkdir()
    r = runner.invoke(main, ["encode", str(src), "-o", str(out), "-q", "2", "--batch", "4"])
    assert r.exit_code == 1 and "bad.png" in r.output and "encoded 3 file(s)" in r.output
    assert (out / "a.aec").read_bytes() == aecodec.encode(sample_path, quality=2)
    r = runner.invoke(main, ["decode", str(out), "-o", str(dec), "--batch", "3"])
    assert r.exit_code == 0, r.output
    assert (dec / "b.png").read_bytes() == runner.invoke(main, ["decode", str(out / "b.aec"), "-o", "-"]).stdout_bytes


def test_bpp_rate_control(runner, tmp_path, sample_path):
    out = tmp_path / "r.aec"
    r = runner.invoke(main, ["encode", str(sample_path), "-o", str(out), "--bpp", "0.5"])
    assert r.exit_code == 0, r.output
    assert 8 * out.stat().st_size / (384 * 256) <= 0.5
    r = runner.invoke(main, ["encode", str(sample_path), "-o", str(out), "--bpp", "0.5", "-q", "3", "--force"])
    assert r.exit_code == 2


def test_train_command_runs_a_tiny_model(runner, tmp_path, sample_path):
    r = runner.invoke(main, ["train", "--data", str(sample_path.parent), "--out", str(tmp_path / "t"), "--N", "8",
                             "--M", "12", "--fresh", "--steps", "2", "--batch", "1", "--patch", "64", "--warmup", "1",
                             "--lambdas", "0.01,0.05"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "t" / "last.pt").exists()
    assert Path(r.output.split("weights: ")[1].split()[0]).exists()


def test_pipes_quiet_verbose_and_python_module(runner, tmp_path, sample_path):
    r = runner.invoke(main, ["encode", "-", "-q", "3"], input=sample_path.read_bytes())
    assert r.exit_code == 0 and r.stdout_bytes[:4] == b"\x89AEC"
    r2 = runner.invoke(main, ["decode", "-", "-o", "-"], input=r.stdout_bytes)
    assert r2.exit_code == 0 and r2.stdout_bytes[:8] == b"\x89PNG\r\n\x1a\n"
    r3 = runner.invoke(main, ["-v", "encode", str(sample_path), "-o", str(tmp_path / "v.aec")])
    assert r3.exit_code == 0 and "bpp" in r3.stderr
    r4 = runner.invoke(main, ["--quiet", "encode", str(sample_path), "-o", str(tmp_path / "v.aec")])
    assert r4.exit_code == 7 and "exists" in r4.stderr  # errors still print when quiet
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "aecodec", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "aecodec" in out.stdout


def test_load_returns_the_ready_codec_of_each_name():
    import torch

    from aecodec.contract import ArrayCodec, ImageCodec

    for info in (c for c in aecodec.list_codecs() if c.weights):
        codec = aecodec.load(info.name)
        assert isinstance(codec, ImageCodec if info.kind == "image" else ArrayCodec), info.name
        if info.kind == "image":  # assembled from parts; a filtered variant shares its base's, filter added
            base = aecodec.load(info.base) if info.base else None
            if info.family == "postfilter":
                assert codec.post is not None and base.post is None and codec.latents is base.latents
            elif base is not None:  # the context model and the codebooks: the base's transforms, own latents
                assert codec.transforms is base.transforms and codec.latents is not base.latents
    net = aecodec.load("hyperprior").model
    assert isinstance(net, torch.nn.Module) and not net.training


def test_kill_9_leaves_no_partial_output(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    import aecodec
    from tests.conftest import noise_image

    src = tmp_path / "big.png"
    noise_image(1600, 1200).save(src)
    out = tmp_path / "big.aec"
    proc = subprocess.Popen([sys.executable, "-m", "aecodec", "encode", str(src), "-o", str(out)])
    time.sleep(2.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # either nothing was written, or the rename already happened and the file is whole
    assert not out.exists() or aecodec.decode(out.read_bytes()).size == (1600, 1200)


def test_pipe_to_existing_file_needs_force(runner, tmp_path, sample_path):
    out = tmp_path / "p.aec"
    out.write_bytes(b"keep")
    r = runner.invoke(main, ["encode", "-", "-o", str(out), "-q", "2"], input=sample_path.read_bytes())
    assert r.exit_code == 7 and out.read_bytes() == b"keep"
    r = runner.invoke(main, ["encode", "-", "-o", str(out), "-q", "2", "--force"], input=sample_path.read_bytes())
    assert r.exit_code == 0 and out.read_bytes()[:4] == b"\x89AEC"


def test_arrays_through_the_cli(runner, tmp_path):
    import numpy as np

    x = np.cumsum(np.random.default_rng(0).standard_normal(3000))
    np.save(tmp_path / "s.npy", x)
    r = runner.invoke(main, ["encode", str(tmp_path / "s.npy")])
    assert r.exit_code == 2 and "--error-bound" in r.output
    r = runner.invoke(main, ["encode", str(tmp_path / "s.npy"), "--error-bound", "0.01"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["decode", str(tmp_path / "s.aec")])  # the default output, s.npy, is the input
    assert r.exit_code == 7 and np.array_equal(np.load(tmp_path / "s.npy"), x)
    r = runner.invoke(main, ["decode", str(tmp_path / "s.aec"), "-o", str(tmp_path / "y.npy")])
    assert r.exit_code == 0 and np.abs(np.load(tmp_path / "y.npy") - x).max() <= 0.01
    r = runner.invoke(main, ["info", str(tmp_path / "s.aec"), "--json"])
    fi = json.loads(r.output)
    assert fi["codec"] == "signal" and fi["array"]["shape"] == [3000] and fi["array"]["error_bound"] == 0.01
    assert fi["compression_ratio"] == pytest.approx(3000 * 8 / (tmp_path / "s.aec").stat().st_size)
    r = runner.invoke(main, ["info", str(tmp_path / "s.aec")])
    assert r.exit_code == 0 and "shape (3000,) float64" in r.output


def test_output_errors_are_one_line_with_exit_7(runner, tmp_path, sample_path):
    folder = tmp_path / "aec"
    folder.mkdir()
    for cmd in (["encode", str(sample_path), "-o", str(folder), "--force"],
                ["encode", str(sample_path), "-o", "/proc/self/x.aec", "--force"]):  # no temporary file there
        r = runner.invoke(main, cmd)
        assert r.exit_code == 7 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.output, r.output
    data = tmp_path / "s.aec"
    assert runner.invoke(main, ["encode", str(sample_path), "-o", str(data), "-q", "1"]).exit_code == 0
    r = runner.invoke(main, ["decode", str(data), "-o", str(folder), "--force"])
    assert r.exit_code == 7 and "is a folder" in r.stderr


def test_outputs_follow_the_umask(runner, tmp_path, sample_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        r = runner.invoke(main, ["encode", str(sample_path), "-o", str(tmp_path / "a.aec"), "-q", "1"])
        assert r.exit_code == 0
        assert runner.invoke(main, ["decode", str(tmp_path / "a.aec"), "-o", str(tmp_path / "a.png")]).exit_code == 0
    finally:
        os.umask(old)
    for name in ("a.aec", "a.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644


def test_alpha_to_jpeg_warns_and_aec_input_to_encode_is_refused(runner, tmp_path):
    from tests.conftest import noise_image

    noise_image(40, 30, "RGBA").save(tmp_path / "a.png")
    assert runner.invoke(main, ["encode", str(tmp_path / "a.png"), "-q", "1"]).exit_code == 0
    r = runner.invoke(main, ["decode", str(tmp_path / "a.aec"), "-o", str(tmp_path / "a.jpg")])
    assert r.exit_code == 0 and "alpha" in r.stderr and (tmp_path / "a.jpg").read_bytes()[:2] == b"\xff\xd8"
    r = runner.invoke(main, ["encode", str(tmp_path / "a.aec"), "-o", str(tmp_path / "b.aec")])
    assert r.exit_code == 3 and "already an .aec file" in r.stderr and not (tmp_path / "b.aec").exists()


def test_trained_weights_code_with_weights_and_refuse_without(runner, tmp_path, sample_path):
    """Train the context codec a few steps, code with the new weights, and a decoder without them exits 5 with
    one line naming the hash."""
    data = tmp_path / "photos"
    data.mkdir()
    (data / "a.png").write_bytes(sample_path.read_bytes())
    run = tmp_path / "run"
    r = runner.invoke(main, ["train", "--codec", "hyperprior-ctx", "--data", str(data), "--out", str(run),
                             "--steps", "2", "--batch", "1", "--patch", "64", "--threads", "1"])
    assert r.exit_code == 0, r.output
    (w,) = run.glob("*.safetensors")
    assert w.with_suffix(".json").exists()
    x = tmp_path / "x.aec"
    r = runner.invoke(main, ["encode", str(sample_path), "--weights", str(w), "-o", str(x), "-q", "2"])
    assert r.exit_code == 0
    r = runner.invoke(main, ["decode", str(x), "--weights", str(w), "-o", str(tmp_path / "y.png")])
    assert r.exit_code == 0 and (tmp_path / "y.png").exists()
    r = runner.invoke(main, ["decode", str(x), "-o", str(tmp_path / "z.png")])
    assert r.exit_code == 5 and not (tmp_path / "z.png").exists()
    assert len(r.stderr.strip().splitlines()) == 1 and aecodec.inspect(x.read_bytes()).weights_hash in r.stderr
    info = runner.invoke(main, ["info", str(x), "--weights", str(w), "--json"])
    assert info.exit_code == 0 and json.loads(info.output)["decodable"] is True


def test_bench_on_the_validation_split_only(runner, tmp_path):
    """--split validation benchmarks exactly the held-out images aecodec train never sees."""
    from aecodec.datasets import split
    from tests.conftest import noise_image

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(40):
        noise_image(32, 32, seed=i).save(folder / f"p{i}.png")
    held_out = sorted(p.name for p in split(sorted(folder.glob("*.png")))[1])
    assert held_out  # 40 names: at least one lands in the 3% split
    out = tmp_path / "bench"
    r = runner.invoke(main, ["bench", "--dataset", str(folder), "--split", "validation", "--codecs", "jpeg",
                             "--out", str(out)])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "results.json").read_text())
    assert sorted(res["images"]) == held_out and res["dataset"] == "photos (validation split)"


def test_bad_arguments_are_refused_before_pytorch_loads(tmp_path, sample_path):
    """Every refusal that needs no model comes at once (no PyTorch import, so well under a second), with its
    documented exit code, and writes nothing."""
    import subprocess
    import sys

    from PIL import Image

    empty, text, bomb = tmp_path / "empty.png", tmp_path / "text.png", tmp_path / "bomb.png"
    empty.write_bytes(b"")
    text.write_text("not an image")
    Image.new("1", (15000, 15000)).save(bomb)  # 27 KB for 225 megapixels
    aec = str(Path(__file__).parent / "data" / "golden_q6.aec")
    out = str(tmp_path / "x.aec")
    cases = [(["encode", str(sample_path), "-q", "11", "-o", out], 6),
             (["encode", str(sample_path), "--codec", "nope", "-o", out], 6),
             (["encode", str(sample_path), "--codec", "signal", "-o", out], 6),
             (["encode", str(sample_path), "--size", "abc", "-o", out], 2),
             (["encode", str(sample_path), "--size", "0KB", "-o", out], 2),
             (["encode", str(sample_path), "--bpp", "-1", "-o", out], 2),
             (["encode", str(sample_path), "--error-bound", "0.1", "-o", out], 2),
             (["encode", str(tmp_path / "missing.png"), "-o", out], 3),
             (["encode", str(empty), "-o", out], 3),
             (["encode", str(text), "-o", out], 3),
             (["encode", str(bomb), "-o", out], 3),
             (["encode", str(sample_path), "--max-pixels", "1000", "-o", out], 3),
             (["encode", str(tmp_path), "-q", "11", "-o", str(tmp_path)], 6),
             (["decode", aec, "-o", str(tmp_path / "out.xyz")], 7),
             (["decode", aec, "-o", str(tmp_path / "noext")], 7),
             (["decode", aec, "-o", out], 7)]
    script = ("import sys\nfrom aecodec.cli.main import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
              "    print('EXIT', e.code, 'torch' in sys.modules)\n")
    for args, code in cases:
        r = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=60)
        assert f"EXIT {code} False" in r.stdout, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr and r.stderr.strip(), (args, r.stderr)
    assert not Path(out).exists() and not (tmp_path / "out.xyz").exists()


def test_info_reads_several_files_and_stdin(runner, tmp_path):
    golden = [Path(__file__).parent / "data" / n for n in ("golden_q1.aec", "golden_q6.aec")]
    r = runner.invoke(main, ["info", *map(str, golden)])
    assert r.exit_code == 0 and "golden_q1.aec: hyperprior" in r.output and "golden_q6.aec: hyperprior" in r.output
    r = runner.invoke(main, ["info", "--json", *map(str, golden)])
    assert [d["quality"] for d in json.loads(r.output)] == [1, 6]
    r = runner.invoke(main, ["info", "-"], input=golden[0].read_bytes())
    assert r.exit_code == 0 and r.output.startswith("stdin: hyperprior"), r.output


def test_binary_output_is_never_written_to_a_terminal(sample_path):
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    try:
        r = subprocess.run([sys.executable, "-m", "aecodec", "encode", str(sample_path), "-o", "-"], stdout=slave,
                           stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    assert r.returncode == 7 and "terminal" in r.stderr


def test_folder_warnings_are_one_line_each_and_quiet_silences_them(runner, tmp_path):
    import numpy as np
    from PIL import Image

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)).save(src / "g16.png")
    r = runner.invoke(main, ["encode", str(src), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert f"aecodec: warning: {src / 'g16.png'}: I;16 image coded with 8 bits per sample" in r.output
    assert "AecWarning" not in r.output and "encoded 1 file(s)" in r.output
    r = runner.invoke(main, ["--quiet", "encode", str(src), "-o", str(out), "--force"])
    assert r.exit_code == 0 and r.output == ""


def test_folder_inputs_whose_outputs_clash_stop_the_run_before_anything_is_written(runner, tmp_path, sample_path):
    from PIL import Image

    src, out = tmp_path / "coll", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    Image.open(sample_path).convert("RGB").save(src / "x.png")
    Image.open(sample_path).convert("RGB").save(src / "x.jpg")
    r = runner.invoke(main, ["encode", str(src), "-o", str(out)])
    assert r.exit_code == 7 and "x.jpg and x.png would both be written to x.aec" in r.output, r.output
    assert list(out.iterdir()) == []


def test_a_target_out_of_reach_fails_and_writes_nothing(runner, tmp_path, sample_path):
    out = tmp_path / "t.aec"
    r = runner.invoke(main, ["encode", str(sample_path), "--size", "20", "-o", str(out)])
    assert r.exit_code == 1 and "not reachable: the smallest file is" in r.output, r.output
    assert not out.exists()


@pytest.fixture
def photo_folder(tmp_path) -> tuple[Path, Path]:
    """(a folder of eight 512x384 images, an empty output folder): a folder run that lasts a few seconds."""
    from tests.conftest import noise_image

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    for i in range(8):
        noise_image(512, 384, seed=i).save(src / f"{i}.png")
    return src, out


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
def test_kill_9_of_a_folder_run_leaves_no_worker_alive(photo_folder):
    import signal
    import subprocess
    import sys
    import time

    src, out = photo_folder
    stderr = out.parent / "stderr.txt"
    proc = subprocess.Popen([sys.executable, "-m", "aecodec", "encode", str(src), "-o", str(out), "--jobs", "2"],
                            stderr=stderr.open("wb"))

    def children() -> set[int]:
        found = set()
        for task in Path(f"/proc/{proc.pid}/task").iterdir():
            found |= {int(p) for p in (task / "children").read_text().split()}
        return found

    deadline, workers = time.time() + 60, set()
    while time.time() < deadline and len(workers) < 3:  # the two workers and the resource tracker
        workers |= children()
        time.sleep(0.2)
    time.sleep(3)  # the workers are coding
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    def alive(pid: int) -> bool:
        try:
            return "\tZ" not in Path(f"/proc/{pid}/status").read_text().split("State:")[1][:4]
        except (FileNotFoundError, IndexError):
            return False

    deadline = time.time() + 10
    while time.time() < deadline and any(map(alive, workers)):
        time.sleep(0.2)
    assert workers and not any(map(alive, workers)), [p for p in workers if alive(p)]
    assert all(aecodec.decode(f.read_bytes()) for f in out.glob("*.aec"))  # only complete outputs
    assert stderr.read_text() == ""  # the resource tracker cleaned up without a word


@pytest.mark.parametrize("after", [0.5, 3.0])  # while the workers import, and while they code
def test_ctrl_c_ends_a_folder_run_at_once_cleanly(photo_folder, after):
    """SIGINT to the run's process group, as a terminal sends it: exit 130 within seconds, one line, no
    traceback, no partial output, no worker left."""
    import os
    import signal
    import subprocess
    import sys
    import time

    src, out = photo_folder
    # as from a terminal's shell: SIGINT at its default even where this test runs with it ignored (a background job)
    proc = subprocess.Popen([sys.executable, "-m", "aecodec", "encode", str(src), "-o", str(out), "--jobs", "2"],
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(after)
    os.killpg(proc.pid, signal.SIGINT)
    t0 = time.time()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and time.time() - t0 < 5, (proc.returncode, err)
    assert "Traceback" not in err and "interrupted" in err and len(err.strip().splitlines()) == 1, err
    time.sleep(2)
    left = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert left == [], left
    assert not [f for f in out.iterdir() if f.suffix != ".aec"]  # no .part file left
    assert all(aecodec.decode(f.read_bytes()) for f in out.glob("*.aec"))


def test_ctrl_c_ends_a_benchmark_at_once(photo_folder):
    """The benchmark's workers end with the run: exit 130 at once, no traceback, no process left."""
    import os
    import signal
    import subprocess
    import sys
    import time

    src, out = photo_folder
    proc = subprocess.Popen([sys.executable, "-m", "aecodec", "bench", "--dataset", str(src), "--codecs",
                             "jpeg,webp", "--jobs", "2", "--out", str(out / "bench"), "--page-images", "0"],
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 60
    while time.time() < deadline and not list((out / "bench" / "cache").rglob("*.json")):
        time.sleep(0.1)  # until the first points are in
    os.killpg(proc.pid, signal.SIGINT)
    t0 = time.time()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and time.time() - t0 < 3, (proc.returncode, time.time() - t0, err)
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "aecodec: interrupted", err
    time.sleep(2)
    assert subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout.split() == []


def _one_line_error(r, code: int) -> None:
    """A refusal as README promises: the documented exit code, one line on stderr, no traceback."""
    err = getattr(r, "stderr", None) or r.output
    assert r.exit_code == code if hasattr(r, "exit_code") else r.returncode == code, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("stdin", [b"hello\n", b"", "truncated"])
def test_stdin_garbage_empty_and_truncated_are_unreadable_input(runner, tmp_path, sample_path, stdin):
    if stdin == "truncated":
        stdin = sample_path.read_bytes()[:1000]
    out = tmp_path / "e.aec"
    r = runner.invoke(main, ["encode", "-", "-o", str(out)], input=stdin)
    _one_line_error(r, 3)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_encode_refuses_an_image_suffix_and_jobs_below_one(runner, tmp_path, sample_path):
    r = runner.invoke(main, ["encode", str(sample_path), "-o", str(tmp_path / "x.png")])
    _one_line_error(r, 7)
    assert "names an image format" in r.output and not (tmp_path / "x.png").exists()
    for jobs in ("0", "-3"):
        r = runner.invoke(main, ["encode", str(sample_path.parent), "-o", str(tmp_path), "--jobs", jobs])
        assert r.exit_code == 2 and "--jobs" in r.output
    assert not list(tmp_path.iterdir())


def test_info_reports_every_file_and_exits_with_the_worst(runner, tmp_path, sample_path):
    good = tmp_path / "good.aec"
    good.write_bytes(aecodec.encode(sample_path, quality=2))
    r = runner.invoke(main, ["info", str(good), str(sample_path), str(good)])
    assert r.exit_code == 4
    assert r.stdout.count("good.aec") == 2 and f"{sample_path}: " in r.stderr and "Traceback" not in r.output


def test_decode_to_a_lossy_format_takes_an_output_quality(runner, tmp_path, sample_path):
    from aecodec.eval.metrics import psnr

    aec = tmp_path / "a.aec"
    aec.write_bytes(aecodec.encode(sample_path, quality=6))
    ref = np.asarray(Image.open(sample_path).convert("RGB"))
    got = {}
    for name, extra in (("a.png", []), ("hi.jpg", []), ("lo.jpg", ["--output-quality", "40"]),
                        ("a.webp", ["--output-quality", "100"])):
        r = runner.invoke(main, ["decode", str(aec), "-o", str(tmp_path / name), *extra])
        assert r.exit_code == 0, r.output
        got[name] = psnr(ref, np.asarray(Image.open(tmp_path / name).convert("RGB")))
    assert got["a.webp"] == got["a.png"]  # quality 100 is lossless WebP
    assert got["a.png"] - 0.5 < got["hi.jpg"] < got["a.png"]  # the default (95, 4:4:4) costs little
    assert got["lo.jpg"] < got["hi.jpg"] - 1
    assert (tmp_path / "lo.jpg").stat().st_size < (tmp_path / "hi.jpg").stat().st_size
    assert runner.invoke(main, ["decode", str(aec), "-o", str(tmp_path / "z.jpg"), "--output-quality", "0"]
                         ).exit_code == 2


def test_shell_completion_offers_codec_names(runner):
    def complete(words: str) -> list[str]:
        env = {"_AECODEC_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)}
        r = runner.invoke(main, [], env=env, prog_name="aecodec")
        return [line.split(",", 1)[1] for line in r.output.splitlines()]

    names = complete("aecodec encode --codec avif")
    assert "avif-pf" in names and all(n.startswith("avif") for n in names)
    assert "jpeg,webp" in complete("aecodec bench --codecs jpeg,we")


def test_bench_refuses_an_anchor_it_does_not_run_before_any_work(runner, tmp_path):
    r = runner.invoke(main, ["bench", "--out", str(tmp_path / "b"), "--codecs", "jpeg", "--anchor", "webp"])
    _one_line_error(r, 6)
    assert "anchor" in r.output and not (tmp_path / "b" / "cache").exists()


def test_permissions_as_a_user_would_meet_them(as_nobody, sample_path):
    import time

    folder, run = as_nobody
    photos = folder / "photos"
    (photos / "sub").mkdir(parents=True)
    for p in (photos / "a.png", photos / "sub" / "b.png"):
        p.write_bytes(sample_path.read_bytes())
    locked = folder / "locked.png"
    locked.write_bytes(sample_path.read_bytes())
    locked.chmod(0o000)
    ro = folder / "ro"
    ro.mkdir()
    ro.chmod(0o555)

    def refused(args: list[str], code: int) -> None:
        got, out = run(args)
        assert got == code and "Traceback" not in out and len(out.strip().splitlines()) == 1, (args, got, out)

    # an unreadable input: exit 3, for encode, decode and info alike
    for args in (["encode", str(locked), "-o", str(folder / "x.aec")], ["decode", str(locked), "-o",
                 str(folder / "x.png")], ["info", str(locked)]):
        refused(args, 3)
    # a read-only output folder, with a nested one to make: refused before anything is encoded
    t = time.perf_counter()
    refused(["encode", str(photos), "-o", str(ro), "--jobs", "2"], 7)
    refused(["encode", str(photos), "-o", str(ro / "deeper")], 7)
    refused(["encode", str(sample_path), "-o", str(ro / "a.aec")], 7)
    assert time.perf_counter() - t < 3 and not list(ro.iterdir())
    # a subfolder it cannot read is named (the readable file's output exists, so the child codes nothing: a
    # forked child of a process whose thread pools ran may not)
    (photos / "sub").chmod(0o000)
    out = folder / "out"
    out.mkdir()
    out.chmod(0o777)
    (out / "a.aec").write_bytes(aecodec.encode(photos / "a.png", quality=1))
    got, text = run(["encode", str(photos), "-o", str(out), "-q", "1"])
    assert got == 1 and f"{photos / 'sub'}: cannot read this folder" in text and "skipped 1 existing" in text, text


@pytest.mark.parametrize("value", [0, 7, 255])
def test_a_grayscale_pixel_comes_back_exactly_through_png_files(runner, tmp_path, value):
    src, aec, out = tmp_path / "px.png", tmp_path / "px.aec", tmp_path / "back.png"
    Image.fromarray(np.array([[value]], np.uint8), "L").save(src)
    assert runner.invoke(main, ["encode", str(src), "-o", str(aec)]).exit_code == 0
    assert runner.invoke(main, ["decode", str(aec), "-o", str(out)]).exit_code == 0
    back = Image.open(out)
    assert back.mode == "L" and np.asarray(back).tolist() == [[value]]
    r = runner.invoke(main, ["info", str(aec)])
    assert "exact pixels" in r.output and "ratio 1:" in r.output  # a file larger than its one byte of pixels
