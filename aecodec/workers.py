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
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

from .atomic import partial

T = TypeVar("T")
R = TypeVar("R")


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


def imap(fn: Callable[[T], R], tasks: Iterable[T], jobs: int, threads: int = 0) -> Iterator[R]:
    """``fn`` over ``tasks`` in ``jobs`` spawned worker processes of ``threads`` threads each (0: PyTorch's
    default), results in order. Spawned, not forked: a forked child of a process that already ran PyTorch's
    thread pools can deadlock. Workers start with Ctrl-C
    ignored (an ignored signal stays ignored across exec): the terminal sends it to every process of the run, and
    only this one acts on it. When the caller stops early (Ctrl-C, an error, or closing this iterator), the
    workers end at once, mid-file, removing what they were writing."""
    from concurrent.futures import ProcessPoolExecutor

    before = set(multiprocessing.active_children())
    _quiet_resource_tracker()
    with _sigint_ignored():
        pool = ProcessPoolExecutor(max(1, jobs), mp_context=multiprocessing.get_context("spawn"),
                                   initializer=init_worker, initargs=(threads,))
        results = pool.map(fn, tasks)  # submits every task: every worker starts here
    try:
        yield from results
    except BaseException:
        for process in set(multiprocessing.active_children()) - before:  # this run's workers
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()


def _quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with its stderr on the null device. When a run is killed
    (SIGKILL), the tracker removes the pool's semaphores, as it should, and then warns on stderr about having
    had to: noise after the user's own kill, about nothing left behind."""
    from multiprocessing import resource_tracker

    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(null, 2)
        resource_tracker.ensure_running()  # a no-op once it runs
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored inside, for the processes started there; only the main thread can set signals (elsewhere
    they never arrive: nothing to do)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
