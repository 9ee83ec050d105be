"""Files a tracked job builds for the person who asked and waits on the progress page: a large
list's export, the ZIP of a session's certificates, a large attendance sheet.

One store for them all, in the database (`store`: a `stored_file` row nothing refers to, which the
unreferenced-files cron deletes after a day, as the progress expires), its id kept in the job's
progress: the web process that serves the download may run on another host than the worker (README,
production), so it never reads the worker's disk, and Redis holds no file. An export is offered for
an hour only (``EXPORT_MAX_AGE``: it shows the data of when it was made). The job writes no URL: the
web code that starts it puts the result's URL, built from a route name, in the progress. A job that
streams a large result writes it first to a scratch file of its own (``scratch_path``), swept when
stale, which `store` copies into the database a chunk at a time; the download streams it back the
same way (app/services/files.py): no process ever holds a large result whole.

Also: the count of items a worker thread has finished, written to the job's progress."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

from app.dates import now
from app.queue import connect
from app.services import files, progress
from app.services.auth import load_current_user
from app.services.errors import NotFound
from app.services.sessions import session_in_scope
from app.settings import get_settings
from app.tables.files import StoredFile

SCRATCH_TTL = 3600  # a scratch file older than this was left by a crashed job
EXPORT_MAX_AGE = timedelta(hours=1)  # then « relancez l'export »: an export shows the data of its hour


def scratch_path(folder: str, token: str, suffix: str) -> Path:
    """The worker's own scratch file for this job's result (``var/<folder>/<token><suffix>``), the
    folder's stale files swept first."""
    path = get_settings().var_dir / folder
    path.mkdir(parents=True, exist_ok=True)
    limit = time.time() - SCRATCH_TTL
    for old in path.glob(f"*{suffix}"):
        if old.stat().st_mtime < limit:
            old.unlink(missing_ok=True)
    if not token or "/" in token or "\\" in token or ".." in token:
        raise ValueError("invalid job token")
    return path / f"{token}{suffix}"


async def session_in_users_scope(redis, token: str, user_id: int, session_id: int) -> dict | None:
    """The session a job works on, as its requester may see it now (scope recomputed from the user,
    never trusted from the queue); None, with the job's progress marked failed, when it is not."""
    user = await load_current_user(user_id)
    try:
        if user is None:
            raise NotFound("Utilisateur inconnu.")
        return await session_in_scope(user, session_id)
    except NotFound:
        await progress.update(redis, token, state="failed", message="Session introuvable.")
        return None


async def store(name: str, content_type: str, content: bytes | Path, user_id: int | None) -> dict:
    """Keep a job's result (its bytes, or the path of its scratch file); returns the progress fields
    that let its owner download it."""
    file_id = await files.store_generated(name, content_type, content, user_id)
    return {"file_id": file_id, "filename": name, "content_type": content_type}


def legacy_url(result_url: str) -> dict:
    """The progress field of a run queued under the old form (session_id, user_id, token, result_url):
    its progress was started without the URL, which the run carries. Nothing for the runs queued
    since (the controller wrote the URL when it started them)."""
    return {"result_url": result_url} if result_url else {}


async def stored_result(state: dict, max_age: timedelta | None = None) -> dict | None:
    """The stored file (id, size) a finished job's progress (``state``) points to, to stream with
    app/services/files.py ``pieces``; None when there is none, or it is older than ``max_age`` or
    already deleted."""
    if state.get("state") != "done" or not isinstance(state.get("file_id"), int):
        return None
    query = StoredFile.select(StoredFile.id, StoredFile.size).where(StoredFile.id == state["file_id"])
    if max_age is not None:
        query = query.where(StoredFile.created_at >= now() - max_age)
    return await query.first()


async def owned_result(redis, user, token: str, gone: str, content_type: str,
                       session_id: int | None = None) -> tuple[dict, dict]:
    """The progress state and the stored file (``stored_result``; of ``content_type``: a ZIP's
    token is no attendance sheet) of a finished job of this user (a CurrentUser) about a session
    still in their scope now (the job's ``session``, and ``session_id`` when the URL names one);
    NotFound (with ``gone``) when the job is someone else's, unknown, unfinished, of another kind or
    session, or its file has expired. A manager moved elsewhere no longer downloads what they asked
    for before."""
    state = await progress.get(redis, token)
    if state is None or state.get("owner") != user.id or state.get("state") != "done" \
            or state.get("content_type") != content_type \
            or not isinstance(state.get("file_id"), int) or not isinstance(state.get("session"), int) \
            or (session_id is not None and state["session"] != session_id):
        raise NotFound(gone)
    try:
        await session_in_scope(user, state["session"])
    except NotFound:
        raise NotFound(gone) from None
    stored = await stored_result(state)
    if stored is None:
        raise NotFound(gone)
    return state, stored


async def give_up(args_list: list[list], reason: str, position: int = 2) -> None:
    """``on_give_up`` of the kinds whose result is waited for (args: session_id, user_id, token, …;
    ``position``: the token's place among them): a run the job layer gave up (an operator aborted it,
    the worker died on the last try) never wrote its progress — it said « En attente » for a day, and
    start_job(once=…) sent every new click to it. Marked failed: the page says so and the next click
    starts a new job."""
    tokens = [args[position] for args in args_list if len(args) > position and args[position]]
    if not tokens:
        return
    redis = await connect()
    try:
        for token in tokens:
            state = await progress.get(redis, token)
            if state is not None and not state["finished"]:
                await progress.update(redis, token, state="failed", message=reason)
    finally:
        await redis.aclose()


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
