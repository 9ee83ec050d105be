"""Files a tracked job builds for the person who asked and waits on the progress page (the ZIP of a
session's certificates, a large attendance sheet): written under ``var/<folder>/<token><suffix>``
(a ``.part`` file renamed when complete), kept RESULT_TTL, served to their owner only once done;
and the count of items a worker thread has finished, written to the job's progress."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from app.services import progress
from app.services.errors import NotFound
from app.settings import get_settings

RESULT_TTL = 3600


def result_dir(folder: str) -> Path:
    path = get_settings().var_dir / folder
    path.mkdir(parents=True, exist_ok=True)
    return path


def result_path(folder: str, token: str, suffix: str) -> Path | None:
    """The file of this job's result; None for a token that could name another file."""
    if not token or "/" in token or "\\" in token or ".." in token:
        return None
    return result_dir(folder) / f"{token}{suffix}"


def sweep_old(folder: str, suffix: str) -> None:
    """Results older than RESULT_TTL go (each job sweeps its folder when it starts)."""
    limit = time.time() - RESULT_TTL
    for old in result_dir(folder).glob(f"*{suffix}"):
        if old.stat().st_mtime < limit:
            old.unlink(missing_ok=True)


def write_result(path: Path, content: bytes) -> None:
    partial = path.with_suffix(".part")
    partial.write_bytes(content)
    partial.replace(path)


async def owned_result(redis, user_id: int, token: str, folder: str, suffix: str, gone: str) -> tuple[dict, Path]:
    """The progress state and file of a finished job of this user; NotFound (with ``gone``) when
    the job is someone else's, unknown, unfinished or its file has expired."""
    state = await progress.get(redis, token)
    path = result_path(folder, token, suffix)
    if (state is None or state.get("owner") != user_id or state.get("state") != "done" or path is None
            or not path.exists()):
        raise NotFound(gone)
    return state, path


class ThreadProgress:
    """Counts the items a worker thread finishes (``step()``, called from the thread) and writes the
    count to the job's progress from the event loop, every ``every`` items and at the last.
    ``await flush()`` before writing the final state, so that no count lands after it."""

    def __init__(self, redis, token: str, total: int, every: int = 10):
        self.redis, self.token, self.total, self.every = redis, token, total, every
        self.loop = asyncio.get_running_loop()
        self.done = 0
        self.pending = []

    def step(self) -> None:
        self.done += 1
        if self.done % self.every == 0 or self.done == self.total:
            self.pending.append(asyncio.run_coroutine_threadsafe(
                progress.update(self.redis, self.token, done=self.done), self.loop))

    async def flush(self, return_exceptions: bool = False) -> None:
        await asyncio.gather(*(asyncio.wrap_future(f) for f in self.pending), return_exceptions=return_exceptions)
