"""Worker processes that extract pages, so trafilatura (which holds the GIL) uses every core.

One pool per process, created on first use and reused by later passes. Workers come from a
forkserver that has preloaded `ingest.extract` and the language model (`ingest.preload`: the
workers share its pages instead of each loading a copy), never forked from the calling process:
that process may hold torch or ONNX Runtime threads, and the workers never load the embedding
model.

A killed pass leaves no workers behind: each worker watches a pipe held by the process that
started the pool and exits when it reads EOF, so after a `kill -9` of `banwatch run`
(tests/test_crash.py) the workers end, and with them the forkserver. Workers ignore SIGINT:
Ctrl-C reaches the calling process, which shuts the pool down.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_size = 0


def default_workers(configured: int) -> int:
    """`fetch.extract_workers`, with 0 meaning min(2, CPU count)."""
    return configured if configured > 0 else min(2, os.cpu_count() or 1)


def _init_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None and parent.sentinel is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()


def _exit_with(sentinel: int) -> None:
    """End this worker as soon as the process that started the pool is gone (even by SIGKILL).

    The sentinel is a pipe the pool's process holds open: it reads EOF when that process dies.
    Waiting for the queue to close is not enough: each forkserver child holds the forkserver's
    "alive" pipe, so without this an orphaned worker and its forkserver would keep each other
    (and the killed pass's stdout) alive.
    """
    from multiprocessing.connection import wait

    wait([sentinel])
    os._exit(1)


def _start(workers: int) -> ProcessPoolExecutor:
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":
        # extraction and detection's candidate finding (`enrich.detect.parallel`), and the
        # language model, loaded once and shared by the workers (`ingest.preload`)
        ctx.set_forkserver_preload(["banwatch.ingest.preload"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker)


def extract_pool(workers: int) -> ProcessPoolExecutor | None:
    """This process's pool of `workers` extraction processes, or None if it cannot have one.

    None for `workers <= 1`, and where child processes cannot be started (a daemonic process,
    a sandbox): extraction then runs in the calling process, as before.
    """
    global _pool, _size
    if workers <= 1:
        return None
    with _lock:
        if _pool is not None and _size == workers:
            return _pool
        shutdown()
        try:
            _pool, _size = _start(workers), workers
        except (OSError, AssertionError, ValueError) as exc:
            logger.warning("extraction stays in this process (no worker processes: %s)", exc)
            return None
        logger.info("extracting pages in %d worker processes", workers)
        return _pool


def existing() -> ProcessPoolExecutor | None:
    """The pool this process already has, if any (never starts one: a process that did not
    extract, such as an Airflow detect task, would pay the workers' start-up for little)."""
    with _lock:
        return _pool


def discard(pool: ProcessPoolExecutor) -> None:
    """Forget a broken pool (a worker died): the next `extract_pool` starts a new one."""
    global _pool, _size
    with _lock:
        if _pool is pool:
            _pool, _size = None, 0
    pool.shutdown(wait=False, cancel_futures=True)


def shutdown() -> None:
    """Stop the workers (at exit, or before a pool of another size)."""
    global _pool, _size
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
        _pool, _size = None, 0


atexit.register(shutdown)
