"""Issue 24, point 8: a worker renders PDFs in one pool of PDF_RENDER_PROCESSES processes, whatever
the number of jobs it runs at once. Two ZIPs of certificates built at the same time by one real
`tremplin worker` share its two render processes — the host is never oversubscribed — and both
ZIPs hold each certificate's own PDF."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import zipfile

import psutil

from app.services import certificates
from app.tables.jobs import JobRun
from tests import processes
from tests.helpers import login, post_form, text
from tests.services.test_certificates import completed_session

POOL = 2
COUNTS = (6, 5)


def _renderers(pid: int) -> set[int]:
    """The worker's render processes: its spawned multiprocessing children (not the resource tracker)."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return set()
    found = set()
    for child in children:
        try:
            command = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "multiprocessing" in command and "resource_tracker" not in command:
            found.add(child.pid)
    return found


async def test_two_zips_at_once_share_the_workers_render_pool(client):
    sessions = [(await completed_session(learners_count=count, complete=count))[0] for count in COUNTS]
    await login(client, "alp001.get")
    worker, log = processes.start(processes.WORKER, "render-pool-worker.log", PDF_RENDER_PROCESSES=POOL)
    seen: list[int] = []
    watching = True

    async def watch():  # the render processes alive at once, sampled every 50 ms while the ZIPs are built
        while watching:
            seen.append(len(_renderers(worker.pid)))
            await asyncio.sleep(0.05)

    watcher = asyncio.create_task(watch())
    try:
        jobs = []
        for session_id in sessions:
            started = await post_form(client, f"/sessions/{session_id}/attestations/zip")
            assert started.status_code == 303
            jobs.append(started.headers["location"])

        async def both_done():
            runs = await JobRun.select().where(JobRun.kind == "build_certificates_zip")
            assert not [r for r in runs if r["status"] == "failed"], runs
            return runs if len(runs) == 2 and all(r["status"] == "succeeded" for r in runs) else None

        runs = await processes.until(both_done, "the two ZIPs", "render-pool-worker.log", timeout=240)
    finally:
        watching = False
        await watcher
        processes.stop(worker, log)
    first, second = runs
    assert first["started_at"] < second["finished_at"] and second["started_at"] < first["finished_at"]  # at once
    assert max(seen) == POOL, seen  # both jobs rendered, on the pool's two processes and no more
    for session_id, job_url, count in zip(sessions, jobs, COUNTS):
        done = await client.get(job_url)
        assert f"Télécharger les {count} attestations" in text(done.text)
        link = re.search(rf'href="([^"]+)"[^>]*>Télécharger les {count}', done.text)[1]
        archive = await client.get(link)
        issued = {c["filename"]: c["pdf_sha256"] for c in await certificates.for_session(session_id)}
        with zipfile.ZipFile(io.BytesIO(archive.content)) as z:
            assert {n: hashlib.sha256(z.read(n)).hexdigest() for n in z.namelist()} == issued
