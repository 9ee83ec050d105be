"""All the certificates of a session as one ZIP, in the background, with progress (SPEC D3).

The ZIP is streamed to a file by zipstream-ng: each PDF is rendered from its snapshot when the
stream reaches it. WeasyPrint is CPU-bound and single-threaded: for a large session the PDFs are
rendered by a pool of processes (one per core), at most WINDOW ahead of the stream, so memory holds
a bounded number of certificates whatever the session's size."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections import Counter, deque
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from zipstream import ZipStream

from app.services import certificates, files, progress
from app.services.auth import load_current_user
from app.services.errors import NotFound
from app.services.sessions import session_in_scope
from app.settings import get_settings

ZIP_TTL = 3600  # a scratch file older than this was left by a crashed job
# From this many certificates the PDFs are rendered by a process pool (starting it costs ~1 s).
PARALLEL_FROM = 30
WINDOW = 16


def zip_dir() -> Path:
    """Where the worker writes a ZIP before storing it in the database (its own scratch space: the
    web process that serves the download may run on another host)."""
    path = get_settings().var_dir / "certificate-zips"
    path.mkdir(parents=True, exist_ok=True)
    return path


def zip_path(token: str) -> Path:
    return zip_dir() / f"{token}.zip"


def _sweep_old() -> None:
    limit = time.time() - ZIP_TTL
    for old in zip_dir().glob("*.zip"):
        if old.stat().st_mtime < limit:
            old.unlink(missing_ok=True)


def _rendered(snapshots: list[dict]):
    """The PDFs of these snapshots, in order: here for a few, by a pool of processes for many."""
    workers = min(os.cpu_count() or 1, 4)
    if len(snapshots) < PARALLEL_FROM or workers < 2:
        for snapshot in snapshots:
            yield certificates.render_sync(snapshot)
        return
    # spawn: a fork of this process would copy its event loop, threads and database connections.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        waiting = deque()
        ahead = iter(snapshots)
        for snapshot in ahead:
            waiting.append(pool.submit(certificates.render_sync, snapshot))
            if len(waiting) >= WINDOW:
                yield waiting.popleft().result()
        while waiting:
            yield waiting.popleft().result()


def archive_names(rows: list[dict]) -> list[str]:
    """Each certificate's name in the ZIP, distinct even for case: homonyms (two « Léa Morel »,
    accounts alp001.l.morel and alp001.l.morel2) would share one name, and unzipping keeps only one
    of the files. A name shared by several gets each one's verification code."""
    counts = Counter(r["filename"].casefold() for r in rows)
    return [r["filename"] if counts[r["filename"].casefold()] == 1
            else r["filename"].removesuffix(".pdf") + f"-{r['display_code']}.pdf" for r in rows]


def _write_zip(path: Path, items: list[tuple[str, dict]], on_file) -> None:
    ordered = _rendered([snapshot for _, snapshot in items])

    def pdf():
        # The stream reads its entries in the order they were added: the next PDF is this entry's.
        yield next(ordered)
        on_file()

    stream = ZipStream(sized=False)  # stored: PDFs are compressed already
    for name, _ in items:
        stream.add(pdf(), arcname=name)
    partial = path.with_suffix(".part")
    with open(partial, "wb") as out:
        for chunk in stream:
            out.write(chunk)
    partial.replace(path)


async def build_certificates_zip(ctx, session_id: int, user_id: int, token: str, result_url: str) -> int:
    redis = ctx["redis"]
    # What the user may see now: scope recomputed from the user, never trusted from the queue.
    user = await load_current_user(user_id)
    try:
        if user is None:
            raise NotFound("Utilisateur inconnu.")
        session = await session_in_scope(user, session_id)
    except NotFound:
        await progress.update(redis, token, state="failed", message="Session introuvable.")
        return 0
    _sweep_old()
    valid = [c for c in await certificates.for_session(session_id) if c["status"] == "valid"]
    await progress.update(redis, token, state="running", total=len(valid), done=0)
    loop = asyncio.get_running_loop()
    done = 0
    pending = []

    def on_file() -> None:
        nonlocal done
        done += 1
        if done % 10 == 0 or done == len(valid):
            pending.append(asyncio.run_coroutine_threadsafe(progress.update(redis, token, done=done), loop))

    filename = f"attestations-{session['code']}.zip"
    scratch = zip_path(token)
    try:
        await asyncio.to_thread(_write_zip, scratch, list(zip(archive_names(valid), (c["snapshot"] for c in valid))),
                                on_file)
        # Stored in the database, like every file served (README, « Where files live »): the web
        # process that answers the download has no access to this worker's disk. Nothing refers
        # to the row: the unreferenced-files cron deletes it after 24 h, as the progress expires.
        file_id = await files.store_generated(filename, "application/zip", await asyncio.to_thread(scratch.read_bytes),
                                              user_id)
    except Exception as exc:
        await asyncio.gather(*(asyncio.wrap_future(f) for f in pending), return_exceptions=True)
        await progress.update(redis, token, state="failed", message=f"La création du ZIP a échoué : {type(exc).__name__}.")
        raise
    finally:
        scratch.unlink(missing_ok=True)
    # The counts written from the thread land before the final state (never after, undoing it).
    await asyncio.gather(*(asyncio.wrap_future(f) for f in pending))
    await progress.update(
        redis, token, state="done", done=len(valid), filename=filename, file_id=file_id,
        result_url=result_url, result_label=f"Télécharger les {len(valid)} attestations (ZIP)",
    )
    return len(valid)


async def seal_certificates(ctx, enrolment_ids: list[int]) -> int:
    """Render and hash the certificates just issued to these enrolments (after many completed at
    once, e.g. by one attendance sheet): idempotent, only unsealed rows are written."""
    return await certificates.seal_now(enrolment_ids)
