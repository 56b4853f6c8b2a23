"""The one atomic write: it follows the umask, and leaves nothing behind when the writer fails."""
import os
import stat

import pytest

import aecodec
from aecodec.atomic import partial, write_atomic


def test_write_atomic_follows_the_umask_and_leaves_nothing_when_the_writer_fails(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a.bin", b"data")
    finally:
        os.umask(old)
    assert (tmp_path / "a.bin").read_bytes() == b"data"
    assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == 0o644

    def fails(f):
        f.write(b"half")
        raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError):
        write_atomic(tmp_path / "b.bin", fails)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]
    with pytest.raises(aecodec.OutputError, match="cannot write"):
        write_atomic(tmp_path / "missing" / "c.bin", b"x")
    assert not partial  # nothing left for a worker's cleanup to remove
