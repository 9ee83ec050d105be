"""Child processes die with their parent (issue 19): a worker SIGKILLed in the middle of a job
must not leave its render processes behind (2 × ~100 MB each time).

``die_with_parent`` is the initializer of the render pool (app/pdf/bounded.py, one per web or
worker process, which every PDF render uses, the certificates ZIP's included): on Linux it asks the kernel to SIGKILL the child when its
parent goes (``prctl(PR_SET_PDEATHSIG, SIGKILL)``). Use it as::

    ProcessPoolExecutor(n, mp_context=…, initializer=die_with_parent, initargs=(os.getpid(),))

The parent is the *thread* that started the child for the kernel: start the pool from a thread that
outlives it (the event loop's default executor threads do). Elsewhere than Linux it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int | None = None) -> bool:
    """In a child process: be killed when the parent dies. ``parent_pid``: the parent's pid, read
    before the child started — a parent dead already (before the call) ends the child at once.
    Returns whether the kernel took the request."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        taken = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)  # the parent died between our start and the request: nobody waits for us
    return taken
