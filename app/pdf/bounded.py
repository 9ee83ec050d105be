"""PDF renders with a deadline, in child processes that can be killed: one pool per web or worker
process, shared by everything that renders in it.

WeasyPrint is CPU-bound pure Python: a pathological document (a line of a million characters) keeps
it busy for minutes, and a thread cannot be stopped — a render in a thread of the web process
starves its event loop of the GIL, and a stuck worker ignores SIGTERM. So every PDF render runs
here, in a pool of spawned processes kept for the life of this process (a render costs the ~70 ms
of WeasyPrint plus a few ms of pickling). The pool has PDF_RENDER_PROCESSES children (default:
the host's cores), all started with the first render and each warmed (the renderers' modules,
fonts and stylesheets loaded, ~1 s, more on a loaded host) before any render is given to them, so
that no start-up is counted in a deadline. It is the only one: two ZIPs of a whole session built at once by one worker share it, so a host never
renders on more processes than it has cores, however many jobs run.

A render is given to the pool only when one of its children is free (``_Slots``): the time it waits
for another job's renders is not counted in its deadline. Its deadline (PDF_RENDER_TIMEOUT, 30 s
by default) runs in the child from the render's start, after the renderer's module is warmed: past
it, the child interrupts the render (SIGALRM) and stays usable, and the render fails with
`RenderFailed` and a French reason. A render stuck where no signal reaches it (in C) is caught
by the parent a little later: the pool is killed and replaced, and the renders that shared it are
run once more in the new one.
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from app.numbers import number_fr
from app.jobs.children import die_with_parent
from app.services.errors import DomainError
from app.settings import get_settings

STARTUP = 120.0  # seconds the children may take to start and warm up (not counted in a deadline)
# The renderers' modules, warmed by each child as it starts (their `warm_up()`).
RENDERERS = ("app.services.certificates.render", "app.services.signing.sheet", "app.pdf.render")
GRACE = 5.0  # past the deadline, what the child's own alarm gets before the parent kills the pool


class RenderFailed(DomainError):
    """A render that ran past its deadline or whose process died; str() is the French reason (a
    request that meets it gets a French 503 page)."""

    status_code = 503


class _Overtime(BaseException):
    """Raised in a render child by its alarm, at the deadline; a BaseException, so that the
    renderer's own ``except Exception`` (WeasyPrint logs and goes on past a bad image) lets it through."""


# -- in a render child ----------------------------------------------------------------------------
_warmed: set[str] = set()  # the renderer modules this child has warmed


def _import(name: str) -> None:
    """Import the renderer's module, and run its `warm_up()` if it has one (fonts, stylesheets and
    templates loaded once, so the first real render is as fast as the others)."""
    module = importlib.import_module(name)
    warm_up = getattr(module, "warm_up", None)
    if warm_up is not None:
        warm_up()


def _start_child(parent_pid: int, started) -> None:
    """A new child: dies with its parent, warms the renderers, then counts itself as started."""
    die_with_parent(parent_pid)
    for name in RENDERERS:
        _import(name)
        _warmed.add(name)
    with started.get_lock():
        started.value += 1


def _on_alarm(signum, frame):
    raise _Overtime()


def _call(function, args: tuple, seconds: float):
    """``function(*args)``, its module warmed first (outside the deadline), interrupted after
    ``seconds`` by the child's own alarm."""
    if function.__module__ not in _warmed:
        _import(function.__module__)
        _warmed.add(function.__module__)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return function(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


# -- in the parent --------------------------------------------------------------------------------
class _Slots:
    """The pool and its free children: a render waits here for one, so that it starts on submit."""

    def __init__(self, size: int):
        # spawn: a fork of this process would copy its event loop, threads and database connections.
        context = multiprocessing.get_context("spawn")
        self.started = context.Value("i", 0)
        self.pool = ProcessPoolExecutor(size, mp_context=context, initializer=_start_child,
                                        initargs=(os.getpid(), self.started))
        self.size = size
        self.free = threading.BoundedSemaphore(size)
        self.closed = False
        # Every child now, rather than one per render that finds none idle (the executor's way): a
        # render is then never given to a child still starting. Private, but the only way to ask.
        self.pool._launch_processes()

    def wait_started(self) -> None:
        """Until every child has warmed up; RenderFailed past STARTUP (a host too loaded to start them)."""
        limit = time.monotonic() + STARTUP
        while self.started.value < self.size:
            if not all(process.is_alive() for process in self.pool._processes.values()):
                raise BrokenProcessPool("a render child died starting")  # its warm-up failed
            if time.monotonic() > limit:
                _discard(self)
                raise RenderFailed("les processus de rendu des PDF n'ont pas démarré")
            time.sleep(0.05)


_slots: _Slots | None = None
_lock = threading.Lock()


def _current() -> _Slots:
    global _slots
    with _lock:
        if _slots is None:
            _slots = _Slots(processes())
        return _slots


def processes() -> int:
    return get_settings().pdf_render_processes


def deadline() -> float:
    return get_settings().pdf_render_timeout


def kill(pool: ProcessPoolExecutor) -> None:
    """Kill a pool's processes (a render stuck in one cannot be stopped otherwise) and shut it down
    without waiting for them."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            process.kill()
        except Exception:  # noqa: BLE001,S110 - already gone
            pass
    pool.shutdown(wait=False, cancel_futures=True)


def _discard(slots: _Slots) -> None:
    global _slots
    with _lock:
        if _slots is slots:
            _slots = None
    kill(slots.pool)


def close() -> None:
    """Stop the pool now (process shutdown): a render still running is killed, not waited for."""
    slots = _slots
    if slots is not None:
        slots.closed = True
        _discard(slots)


@dataclass
class _Render:
    function: object
    args: tuple
    timeout: float
    slots: _Slots
    future: object
    limit: float  # how long the parent waits: the deadline and the grace given to the child's alarm
    retried: bool = False


def _submit(function, args: tuple, timeout: float) -> _Render:
    """Give the render to the pool once one of its children is free (this thread waits for it)."""
    while True:
        slots = _current()
        if slots.free.acquire(timeout=1.0):  # else: maybe a pool discarded meanwhile, take the new one
            break
    try:
        slots.wait_started()
        future = slots.pool.submit(_call, function, args, timeout)
    except (BrokenProcessPool, RuntimeError):  # killed by another render's deadline, or shut down
        slots.free.release()
        _discard(slots)
        future = None
    except BaseException:
        slots.free.release()
        raise
    else:
        future.add_done_callback(lambda _: slots.free.release())
    return _Render(function, args, timeout, slots, future, timeout + GRACE)


def _outcome(render: _Render):
    """The render's result, or RenderFailed; a render whose pool died under it runs once more."""
    while True:
        try:
            if render.future is None:
                raise BrokenProcessPool()
            return render.future.result(timeout=render.limit)
        except _Overtime:
            raise RenderFailed(f"le rendu du PDF a dépassé {number_fr(render.timeout)} s et a été interrompu") from None
        except FutureTimeout:
            _discard(render.slots)
            raise RenderFailed(f"le rendu du PDF a dépassé {number_fr(render.timeout)} s et a été interrompu") from None
        except (BrokenProcessPool, CancelledError):
            _discard(render.slots)
            if render.retried or render.slots.closed:
                raise RenderFailed("le processus de rendu du PDF s'est arrêté") from None
            render = _retry(render)


def _retry(render: _Render) -> _Render:
    again = _submit(render.function, render.args, render.timeout)
    again.retried = True
    return again


def run(function, *args, timeout: float | None = None):
    """``function(*args)`` in the render pool, within `timeout` seconds (default: the deadline) of
    its start (this thread blocks: call it from a thread, or use `run_async`). Its exception is
    raised as is; past the deadline, or when its process dies, RenderFailed."""
    return _outcome(_submit(function, args, timeout or deadline()))


async def run_async(function, *args, timeout: float | None = None):
    """`run` off the event loop."""
    return await asyncio.to_thread(run, function, *args, timeout=timeout)


def ordered(function, items, window: int):
    """``function(item)`` for each item, in order, rendered in the pool at most ``window`` ahead of
    the one being consumed (memory holds a bounded number of results whatever the count), each
    within the deadline (else RenderFailed). Blocks: iterate from a thread."""
    waiting: deque[_Render] = deque()
    try:
        for item in items:
            waiting.append(_submit(function, (item,), deadline()))
            if len(waiting) >= window:
                yield _outcome(waiting.popleft())
        while waiting:
            yield _outcome(waiting.popleft())
    finally:
        for render in waiting:  # the job failed or was stopped: what was not started never is
            if render.future is not None:
                render.future.cancel()
