"""PDF renders with a deadline, in a child process that can be killed.

WeasyPrint is CPU-bound pure Python: a pathological document (a line of a million characters) keeps
it busy for minutes, and a thread cannot be stopped — a render in a thread of the web process
starves its event loop of the GIL, and a stuck worker ignores SIGTERM. So every certificate render
runs here: in a small pool of spawned processes kept for the life of this process (a render costs
the ~70 ms of WeasyPrint plus a few ms of pickling; the child starts once, ~1 s, on the first
render), with a deadline per render (PDF_RENDER_TIMEOUT, 30 s by default). A render past its
deadline has its pool killed and replaced, and fails with `RenderFailed` and a French reason; the
renders that shared the killed pool are run once more in the new one.
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool

from app.numbers import number_fr
from app.jobs.children import die_with_parent
from app.services.errors import DomainError
from app.settings import get_settings

WORKERS = 1  # per web or worker process: a certificate at a time, the common case
STARTUP = 120.0  # seconds a new child may take to start and import the renderer (not counted in a deadline)


class RenderFailed(DomainError):
    """A render that ran past its deadline or whose process died; str() is the French reason (a
    request that meets it gets a French 503 page)."""

    status_code = 503


_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()
_closed: set[int] = set()  # id() of pools stopped by `close`: their renders are not run again
_warm: dict[int, set[str]] = {}  # id() of a pool: the modules its child has imported


def _import(name: str) -> None:
    """In a new child: import the renderer's module, and run its `warm_up()` if it has one (fonts,
    stylesheets and templates loaded once, so the first real render is as fast as the others)."""
    module = importlib.import_module(name)
    warm_up = getattr(module, "warm_up", None)
    if warm_up is not None:
        warm_up()


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            # spawn: a fork of this process would copy its event loop, threads and database connections.
            _pool = ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=die_with_parent, initargs=(os.getpid(),))
        return _pool


def kill(pool: ProcessPoolExecutor) -> None:
    """Kill a pool's processes (a render stuck in one cannot be stopped otherwise) and shut it down
    without waiting for them. Also for the ZIP's own pool (app/jobs/certificates.py)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            process.kill()
        except Exception:  # noqa: BLE001,S110 - already gone
            pass
    pool.shutdown(wait=False, cancel_futures=True)


def _discard(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    _warm.pop(id(pool), None)
    kill(pool)


def close() -> None:
    """Stop the pool now (process shutdown): a render still running is killed, not waited for."""
    pool = _pool
    if pool is not None:
        _closed.add(id(pool))
        _discard(pool)


def deadline() -> float:
    return get_settings().pdf_render_timeout


# A worker runs up to ten jobs at once, each maybe rendering (the bulletins of a burst of
# confirmations, bench/multi_host.py): a render waits here for a free child, outside its deadline.
# Submitted at once, the last one's deadline ran while it waited in the pool's line; on a busy host
# it expired, killed the pool and every render in it, and the notifications failed all their tries.
_slots = threading.BoundedSemaphore(WORKERS)


def run(function, *args, timeout: float | None = None):
    """``function(*args)`` in the render pool, waited for at most `timeout` seconds once a child is
    free (this thread blocks: call it from a thread, or use `run_async`). Its exception is raised as
    is; past the deadline, or when its process dies, RenderFailed."""
    with _slots:
        return _run_in_pool(function, args, timeout or deadline())


def _run_in_pool(function, args: tuple, timeout: float):
    for attempt in (1, 2):
        pool = _executor()
        try:
            # A new child starts (~1 s, more on a loaded machine) and imports the renderer first,
            # outside the render's deadline.
            module = function.__module__
            if module not in _warm.setdefault(id(pool), set()):
                pool.submit(_import, module).result(timeout=STARTUP)
                _warm.setdefault(id(pool), set()).add(module)
            future = pool.submit(function, *args)
        except (BrokenProcessPool, RuntimeError, FutureTimeout):  # killed by another render's deadline, or shut down
            _discard(pool)
            if id(pool) in _closed:
                break
            continue
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            _discard(pool)
            raise RenderFailed(f"le rendu du PDF a dépassé {number_fr(timeout)} s et a été interrompu") from None
        except BrokenProcessPool:
            _discard(pool)
            if attempt == 2 or id(pool) in _closed:
                break
    raise RenderFailed("le processus de rendu du PDF s'est arrêté")


async def run_async(function, *args, timeout: float | None = None):
    """`run` off the event loop."""
    return await asyncio.to_thread(run, function, *args, timeout=timeout)
