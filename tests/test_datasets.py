"""Image folders, named datasets and the split without PyTorch, the very objects training imports."""
import subprocess
import sys

import aecodec.datasets
import aecodec.training.data


def test_datasets_load_no_pytorch_and_are_what_training_uses(tmp_path):
    code = "import sys, aecodec.datasets; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60).returncode == 0
    for name in ("IMAGE_SUFFIXES", "resolve_images", "split", "load_datasets", "datasets_toml"):
        assert getattr(aecodec.training.data, name) is getattr(aecodec.datasets, name)
    (tmp_path / "sub").mkdir()
    for name in ("b.PNG", "sub/a.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "folder.png").mkdir()
    assert aecodec.datasets.folder_images(tmp_path) == [tmp_path / "b.PNG", tmp_path / "sub" / "a.jpg"]
