"""Issue 19: a worker SIGKILLed in the middle of a job. Its runs used to wait for their kind's timeout
(an hour for the certificates ZIP, whose page stayed at « 27 % ») and its render processes stayed
behind. Now a worker's heartbeat says it is alive; the sweep hands the runs of a silent worker over
within ``JOBS_WORKER_DEAD_AFTER`` seconds, and the pool's children die with their parent.

Real `tremplin worker` processes, each with a render pool of two processes (the worker is started
by a two-line wrapper rendering two ahead, then running `tremplin worker` itself)."""

from __future__ import annotations

import signal
import sys

import psutil

from app.jobs.children import die_with_parent
from app.tables.jobs import JobRun
from tests import processes
from tests.helpers import login, post_form, text
from tests.services.test_certificates import completed_session

# The kinds' own timeouts (an hour for the ZIP): only the heartbeat may hand the run over quickly.
HEARTBEAT = {"JOBS_SWEEP_SECONDS": 2, "JOBS_REQUEUE_AFTER": 2, "JOBS_HEARTBEAT_SECONDS": 1,
             "JOBS_WORKER_DEAD_AFTER": 4, "JOBS_RETRY_BASE": 0.5, "PDF_RENDER_PROCESSES": 2}
POOLED_WORKER = [sys.executable, "-c",
                 "import sys; import app.jobs.certificates as c; c.WINDOW = 2; "
                 "sys.argv = ['tremplin', 'worker']; from app.cli import main; main()"]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_a_killed_worker_is_relieved_within_seconds_and_its_render_processes_die(client):
    session_id, *_ = await completed_session(learners_count=8, complete=8)
    await login(client, "alp001.get")
    first, first_log = processes.start(POOLED_WORKER, "zip-killed-worker.log", **HEARTBEAT)
    second = None
    try:
        started = await post_form(client, f"/sessions/{session_id}/attestations/zip")
        assert started.status_code == 303
        job_url = started.headers["location"]

        async def rendering():
            # The run is held by the first worker and its pool's processes have started.
            run = await JobRun.select().where(JobRun.kind == "build_certificates_zip").first()
            if not run or run["status"] != "running":
                return None
            children = psutil.Process(first.pid).children(recursive=True)
            renderers = [c for c in children if "multiprocessing" in " ".join(c.cmdline())
                         and "resource_tracker" not in " ".join(c.cmdline())]
            return (run, children) if len(renderers) >= 2 else None

        run, children = await processes.until(rendering, "the ZIP rendering in the first worker",
                                              "zip-killed-worker.log")
        assert run["tries"] == 1
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)

        async def orphans_gone():
            return not [c.pid for c in children if _alive(c.pid)]

        await processes.until(orphans_gone, "the killed worker's render processes to die", timeout=10)

        second, second_log = processes.start(POOLED_WORKER, "zip-relief-worker.log", **HEARTBEAT)

        async def done():
            row = await JobRun.select().where(JobRun.id == run["id"]).first()
            return row if row["status"] == "succeeded" else None

        # The heartbeat (4 s), a sweep (every 2 s), the worker's start and the renders: well within
        # a minute — the kind's own timeout is an hour.
        final = await processes.until(done, "the ZIP taken over by the second worker", "zip-relief-worker.log",
                                      timeout=60)
    finally:
        processes.stop(first, first_log)
        if second is not None:
            processes.stop(second, second_log)
    assert final["tries"] == 2 and final["worker"] != run["worker"]
    page = text((await client.get(job_url)).text)
    assert "Terminé" in page and "Télécharger les 8 attestations" in page


def test_die_with_parent_asks_the_kernel_and_refuses_an_orphan():
    import multiprocessing
    import os

    context = multiprocessing.get_context("spawn")
    # Its parent alive: the request is taken and the child goes on (exits normally).
    child = context.Process(target=die_with_parent, args=(os.getpid(),))
    child.start()
    child.join(timeout=30)
    assert child.exitcode == 0
    # A child whose recorded parent is not its parent any more (it died first) ends at once.
    child = context.Process(target=die_with_parent, args=(os.getpid() + 999_999,))
    child.start()
    child.join(timeout=30)
    assert child.exitcode == 1
