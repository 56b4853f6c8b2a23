"""Worker processes of folder runs and benchmarks: they never outlive their run, and never leave a partial file.

A worker ends with the process that started it, however that one ends (SIGKILL included): a death signal
(Linux), and a thread that notices the parent is gone within half a second, which also covers a parent that
died before the signal was set. Either way the worker removes the temporary files it was writing (``partial``)
before it exits, so an interrupted run leaves only complete outputs.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from pathlib import Path

partial: set[str] = set()  # temporary files being written by this process (``register``ed by their writer)


def init_worker(threads: int = 0) -> None:
    """``initializer`` of a worker process: a thread budget (0: PyTorch's default) and the ending above."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        signal.signal(signal.SIGTERM, _end)
        if sys.platform.startswith("linux"):
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        threading.Thread(target=_end_with, args=(parent.pid,), daemon=True, name="parent-watch").start()
    if threads:
        import torch

        torch.set_num_threads(threads)


def _end(signum: int = signal.SIGTERM, frame=None) -> None:
    for f in list(partial):
        Path(f).unlink(missing_ok=True)
    os._exit(128 + signum)


def _end_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    _end()
