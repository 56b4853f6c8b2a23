"""The one atomic write: every file aecodec writes (coded files, images, weights, checkpoints, caches) goes
through a temporary file in the same folder and a rename, so readers never see a partial file.

``partial`` names the temporary files this process is writing, so that a worker ended mid-write removes them
(``aecodec.workers``)."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .errors import OutputError

partial: set[str] = set()  # temporary files being written by this process


def file_mode() -> int:
    """The mode a plain ``open()`` gives a new file (0666 less the umask): what written files get."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: Path, data: bytes | Callable[[BinaryIO], None]) -> None:
    """Write ``data`` (bytes, or a function that writes into the open file) to ``path`` atomically, with the
    mode a plain ``open()`` would give it (not the temporary file's 0600); ``OutputError`` when it cannot."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    partial.add(tmp)
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "wb") as f:
            if isinstance(data, bytes):
                f.write(data)
            else:
                data(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        partial.discard(tmp)
