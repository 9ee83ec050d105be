"""Durable jobs (issue 11, defect 3 and the faults it must survive), with real processes: a Redis
server of the test's own (stopped and started again; the shared one at 6379 is never touched), and
`tremplin worker` processes (one SIGKILLed in the middle of an account import).

Defect 3: only mail was durable. A request confirmed or an import started while Redis refused the
job was never notified / stayed "queued" for ever. Now the run is a row committed with the work; the
sweep hands it to arq once Redis is back."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest

from app.dates import now
from app.jobs import durable
from app.jobs import kinds as jobs
from app.jobs.worker import BOUND, cron_status, function_of
from app.jobs.redaction import MASK, redact, redact_args
from app.services import progress
from app.services import registration as reg
from app.settings import get_settings
from app.tables.accounts import User
from app.tables.catalogue import ContentImport, CourseTemplate, SessionActivity, TrainingSession
from app.tables.imports import ImportBatch
from app.tables.jobs import JobAction, JobRun
from app.tables.registration import RegistrationRequest, RequestEvent
from tests.conftest import ROOT, TMP
from tests.controllers.test_registration import _fill, _link, _session
from tests.controllers.test_registration_notifications import _awaiting
from tests import processes
from tests.helpers import login, post_form, text
from tests.jobs.test_import_accounts import HEADER, _alp001, _upload


OwnRedis = processes.RedisServer


@pytest.fixture
def own_redis():
    server = OwnRedis()
    server.start()
    yield server
    server.stop()


# Short timeouts for the worker processes of these tests (production: 30 s sweep, 60 s grace).
FAST = {"JOBS_SWEEP_SECONDS": 2, "JOBS_REQUEUE_AFTER": 2, "JOBS_TIMEOUT": 10, "JOBS_RETRY_BASE": 0.5}


async def _confirmable_requests(client, smtp, run_jobs, n: int) -> list[str]:
    """``n`` registration requests awaiting their confirmation; the tokens of their links."""
    await _session()
    await _fill(client)
    await run_jobs()
    _link(smtp, r"http://testserver\.local/inscription/confirmer/\S+")
    first = await RegistrationRequest.select().where(RegistrationRequest.status == "awaiting_confirmation").first()
    await RegistrationRequest.delete().where(RegistrationRequest.id == first["id"])
    return [p.rsplit("/", 1)[1] for p in await _awaiting(first, n)]


async def _import_batch(client, lines: list[str]) -> int:
    await login(client, "alp001.get")
    upload = await _upload(client, await _alp001(), [HEADER, *lines])
    assert upload.status_code == 303, text(upload.text)
    return int(upload.headers["location"].rsplit("/", 1)[1])


def _people(prefix: str, n: int) -> list[str]:
    return [f"Prénom{i};{prefix}{i:03d};;{prefix.lower()}{i}@example.org;{prefix}{i};" for i in range(n)]


async def _content_import_ready(client) -> int:
    """A session of ALP001 whose content-import wizard stands at its last step; its id."""
    alp001 = await _alp001()
    template = await CourseTemplate.select(CourseTemplate.id).where(CourseTemplate.code == "C03").first()
    created = await post_form(client, f"/etablissements/{alp001}/sessions/nouvelle", {
        "template": "", "start_date": "2026-06-12", "end_date": "2026-06-16", "establishment": alp001,
        "visible": "1", "action": "save"})
    assert created.status_code == 303, text(created.text)
    session = await TrainingSession.select(TrainingSession.id).order_by(TrainingSession.id, ascending=False).first()
    url = f"/sessions/{session['id']}/import"
    await post_form(client, url, {"step": "1", "go": "next", "template": template["id"]})
    await post_form(client, url, {"step": "2", "go": "next"})
    await post_form(client, url, {"step": "3", "go": "next"})
    return session["id"]


async def _runs() -> dict[str, list[dict]]:
    by_kind: dict[str, list[dict]] = {}
    for run in await JobRun.select().order_by(JobRun.id):
        by_kind.setdefault(run["kind"], []).append(run)
    return by_kind


async def test_jobs_refused_by_redis_run_once_it_is_back(app, client, smtp, run_jobs, own_redis, monkeypatch,
                                                         settings_env):
    """Defect 3 (fails on the code before the job layer: the import's confirmation raised with Redis
    down and left the batch "queued", no job anywhere)."""
    tokens = await _confirmable_requests(client, smtp, run_jobs, 2)
    batch_id = await _import_batch(client, _people("Refus", 3))
    session_id = await _content_import_ready(client)

    # The app's Redis is our own server, which goes down.
    working, down = app.state.redis, await own_redis.pool()
    own_redis.stop()
    app.state.redis = down
    try:
        for token in tokens:
            assert (await reg.confirm(token, down))["status"] == "confirmed"
        confirmed = await post_form(client, f"/imports/{batch_id}/confirmer")
        assert confirmed.status_code == 303, text(confirmed.text)
        launched = await post_form(client, f"/sessions/{session_id}/import", {"step": "4", "go": "next"})
        assert launched.status_code == 303, text(launched.text)
    finally:
        app.state.redis = working
        await down.aclose()

    runs = await _runs()
    # The analysis of the import's file ran at its upload, with Redis up.
    assert [r["status"] for r in runs.pop("analyse_import")] == ["succeeded"]
    assert sorted(runs) == ["import_accounts", "import_session_content", "send_request_notifications"]
    assert all(r["status"] == "queued" and r["tries"] == 0 for rs in runs.values() for r in rs)
    assert await RegistrationRequest.count().where(RegistrationRequest.notified_at.is_null()) == 2

    # Redis is back (empty: it kept nothing). The sweep hands the runs over; a worker runs them.
    own_redis.start()
    monkeypatch.setenv("REDIS_URL", own_redis.url)
    settings_env(JOBS_REQUEUE_AFTER=0)
    back = await own_redis.pool()
    try:
        assert (await durable.sweep(back, BOUND))["enqueued"] == 4
        await run_jobs()
    finally:
        await back.aclose()

    assert await RegistrationRequest.count().where(RegistrationRequest.notified_at.is_null()) == 0
    assert await RequestEvent.count().where(RequestEvent.action == "Notifications envoyées") == 2
    batch = await ImportBatch.select().where(ImportBatch.id == batch_id).first()
    assert batch["status"] == "done" and batch["created_count"] == 3
    assert await User.count().where(User.email.like("refus%@example.org")) == 3
    content = await ContentImport.select(ContentImport.status).where(ContentImport.session == session_id).first()
    assert content["status"] == "done"
    assert await SessionActivity.count().where(SessionActivity.session == session_id) > 0
    runs = await _runs()
    assert {k: [(r["status"], r["tries"]) for r in rs] for k, rs in runs.items()} == {
        "analyse_import": [("succeeded", 1)],
        "send_request_notifications": [("succeeded", 1)] * 2,
        "import_accounts": [("succeeded", 1)],
        "import_session_content": [("succeeded", 1)],
        "send_mail_group": [("succeeded", 1)],  # the import's credentials, a run of its own
    }
    # Nothing left for a later sweep.
    again = await own_redis.pool()
    try:
        assert (await durable.sweep(again, BOUND))["enqueued"] == 0
    finally:
        await again.aclose()


async def test_a_worker_killed_in_the_middle_of_an_import_is_relieved_by_another(client, smtp, redis_client):
    """SIGKILL during the account import's transaction: after the job's timeout, another worker
    finishes it; every account exists once; the run shows its two tries."""
    batch_id = await _import_batch(client, _people("Tue", 40))
    first, first_log = processes.start(processes.WORKER, "killed-worker.log", JOBS_TEST_IMPORT_DELAY=60, **FAST)
    second = None
    try:
        assert (await post_form(client, f"/imports/{batch_id}/confirmer")).status_code == 303

        async def running():
            run = await JobRun.select().where(JobRun.kind == "import_accounts").first()
            return run if run and run["status"] == "running" else None

        run = await processes.until(running, "the import started by the first worker", "killed-worker.log")
        assert run["tries"] == 1
        token = (await ImportBatch.select(ImportBatch.token).where(ImportBatch.id == batch_id).first())["token"]

        async def inserted():
            state = await progress.get(redis_client, token)
            return state and state["done"] == 40

        # Inside its transaction: the accounts are inserted (the progress says so), not committed.
        await processes.until(inserted, "the accounts inserted by the first worker", "killed-worker.log")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert await User.count().where(User.email.like("tue%@example.org")) == 0

        second, second_log = processes.start(processes.WORKER, "relief-worker.log", **FAST)

        async def done():
            batch = await ImportBatch.select(ImportBatch.status, ImportBatch.created_count).where(
                ImportBatch.id == batch_id).first()
            return batch if batch["status"] == "done" else None

        batch = await processes.until(done, "the import finished by the second worker", "relief-worker.log", timeout=60)
    finally:
        processes.stop(first, first_log)
        if second is not None:
            processes.stop(second, second_log)
    assert batch["created_count"] == 40
    emails = [r["email"] for r in await User.select(User.email).where(User.email.like("tue%@example.org"))]
    assert len(emails) == 40 and len(set(emails)) == 40
    final = await JobRun.select().where(JobRun.id == run["id"]).first()
    assert final["status"] == "succeeded" and final["tries"] == 2
    assert final["worker"] != run["worker"]
    assert json.loads(final["result"])["created"] == 40


async def test_redis_down_for_a_while_loses_nothing(app, client, smtp, run_jobs, own_redis):
    """A `tremplin worker` on our own Redis; Redis stops while requests are confirmed and imports
    started, long enough for the worker to give up on it twice (it starts again each time, the
    second time after a longer delay); once Redis is back (empty), every job runs, once."""
    # The kinds' own timeouts: a notification's PDF may take more than FAST's 10 s on a loaded machine,
    # and its retry would blur "every job ran once".
    worker, log = processes.start(processes.WORKER, "outage-worker.log", REDIS_URL=own_redis.url,
                                  **{k: v for k, v in FAST.items() if k != "JOBS_TIMEOUT"})
    try:
        tokens = await _confirmable_requests(client, smtp, run_jobs, 3)
        batches = [await _import_batch(client, _people(f"Panne{b}", 4)) for b in range(2)]

        async def alive():
            return "Starting worker" in (TMP / "outage-worker.log").read_text()

        await processes.until(alive, "the worker's start", "outage-worker.log")
        down = await own_redis.pool()
        own_redis.stop()
        working, app.state.redis = app.state.redis, down
        try:
            for token in tokens:
                await reg.confirm(token, down)
            for batch_id in batches:
                assert (await post_form(client, f"/imports/{batch_id}/confirmer")).status_code == 303
        finally:
            app.state.redis = working
            await down.aclose()

        async def given_up_twice():
            return (TMP / "outage-worker.log").read_text().count("Redis unavailable") >= 2

        await processes.until(given_up_twice, "the worker losing Redis twice", "outage-worker.log")
        assert await RegistrationRequest.count().where(RegistrationRequest.notified_at.is_null()) == 3
        own_redis.start()

        async def all_done():
            # The credentials mails aside, and the analyses of the two files (before the outage).
            runs = await JobRun.select(JobRun.status).where(JobRun.kind.not_in(["send_mail_group", "analyse_import"]))
            return len(runs) == 5 and all(r["status"] == "succeeded" for r in runs)

        await processes.until(all_done, "the jobs after the outage", "outage-worker.log", timeout=45)
    finally:
        processes.stop(worker, log)
    assert await RegistrationRequest.count().where(RegistrationRequest.notified_at.is_null()) == 0
    assert await RequestEvent.count().where(RequestEvent.action == "Notifications envoyées") == 3
    for b, batch_id in enumerate(batches):
        batch = await ImportBatch.select().where(ImportBatch.id == batch_id).first()
        assert batch["status"] == "done" and batch["created_count"] == 4
        assert await User.count().where(User.email.like(f"panne{b}%@example.org")) == 4
    assert all(r["tries"] == 1 for r in await JobRun.select(JobRun.tries).where(
        JobRun.kind.is_in(["import_accounts", "send_request_notifications"])))


# -- the layer's rules, in process ------------------------------------------------------------------
@pytest.mark.smoke
async def test_a_run_is_recorded_with_the_callers_transaction_and_enqueued_after_its_commit(demo, redis_client):
    from app import db

    async with db.transaction():
        run_id = await jobs.COHORT_SYNC.submit(redis_client, 123)
        # Not on arq's queue before the commit: a worker would not find the run (or its work).
        assert await redis_client.zcard(get_settings().redis.queue_name) == 0
    assert await redis_client.zrange(get_settings().redis.queue_name, 0, -1) == [f"run:{run_id}:0".encode()]

    class Refused(Exception):
        pass

    try:
        async with db.transaction():
            await jobs.COHORT_SYNC.submit(redis_client, 456)
            raise Refused
    except Refused:
        pass
    assert await JobRun.count() == 1  # rolled back with the work: nothing to run
    assert await redis_client.zcard(get_settings().redis.queue_name) == 1
    # A key is one run: the second submit of the same notification is ignored.
    assert await jobs.REQUEST_NOTIFICATIONS.submit(redis_client, 7) is not None
    assert await jobs.REQUEST_NOTIFICATIONS.submit(redis_client, 7) is None


async def test_aborted_and_finished_runs_are_skipped_failures_retried_then_failed(demo, redis_client, run_jobs,
                                                                                settings_env):
    settings_env(JOBS_RETRY_BASE=0.05)
    synced = await jobs.COHORT_SYNC.submit(redis_client, 999999)  # no such cohort: an empty sync succeeds
    aborted = await jobs.COHORT_SYNC.submit(redis_client, 1)
    await JobRun.update({JobRun.status: "aborted"}).where(JobRun.id == aborted)
    # An export (tracked, not durable) of an unknown table: the job says so and ends.
    export = await jobs.EXPORT_TABLE.submit(redis_client, "no-such-table", 1, {}, "tok", "xlsx")
    await run_jobs()
    rows = {r["id"]: r for r in await JobRun.select()}
    assert rows[synced]["status"] == "succeeded" and rows[synced]["tries"] == 1 and rows[synced]["finished_at"]
    assert rows[aborted]["status"] == "aborted" and rows[aborted]["tries"] == 0
    assert rows[export]["status"] == "succeeded" and rows[export]["result"] == "0"
    # The same arq job handed over again (a sweep, an operator) does not run a finished run twice.
    await durable.dispatch(redis_client, [synced, aborted], "again", BOUND)
    await run_jobs()
    assert (await JobRun.select(JobRun.tries).where(JobRun.id == synced).first())["tries"] == 1


@pytest.mark.smoke
async def test_a_failing_job_is_retried_with_backoff_then_failed_with_its_traceback_redacted(
        demo, redis_client, run_jobs, settings_env, monkeypatch):
    settings_env(JOBS_RETRY_BASE=0.05)
    from app.services import enrolments

    async def broken(cohort_id):
        raise RuntimeError("SMTP refused password=Hunter2secret for https://x.org/reset?token=abc")

    monkeypatch.setattr(enrolments, "sync_cohort", broken)
    run_id = await jobs.COHORT_SYNC.submit(redis_client, 5)
    await run_jobs()  # the burst worker waits for the deferred retries (backoff 0.05 s, then 0.1 s) too
    run = await JobRun.select().where(JobRun.id == run_id).first()
    assert run["status"] == "failed" and run["tries"] == 3 and run["finished_at"] is not None
    assert "RuntimeError" in run["error"] and "Hunter2secret" not in run["error"] and "abc" not in run["error"]

    # Operator retry (the CLI's path): tries again from 0, recorded, dispatched.
    monkeypatch.undo()
    assert await durable.retry(redis_client, [run_id], None, "cli", BOUND) == 1
    action = await JobAction.select().first()
    assert action["run"] == run_id and action["action"] == "retry" and action["actor"] is None
    assert action["detail"] == "cli"
    await run_jobs()
    run = await JobRun.select().where(JobRun.id == run_id).first()
    assert run["status"] == "succeeded" and run["tries"] == 1


async def test_the_sweep_fails_a_run_whose_worker_died_on_its_last_try_and_purges_old_history(demo, redis_client):
    t = now()
    dead = await jobs.COHORT_SYNC.submit(redis_client, 1)
    await redis_client.flushdb()
    await JobRun.update({JobRun.status: "running", JobRun.tries: 3, JobRun.started_at: t - timedelta(hours=2)}).where(
        JobRun.id == dead)
    old = await jobs.COHORT_SYNC.submit(redis_client, 2)
    await JobRun.update({JobRun.status: "succeeded", JobRun.finished_at: t - timedelta(days=31)}).where(
        JobRun.id == old)
    assert await durable.sweep(redis_client, BOUND) == {"enqueued": 0, "failed": 1}
    row = await JobRun.select().where(JobRun.id == dead).first()
    assert row["status"] == "failed" and "le worker s'est arrêté" in row["error"]
    assert await durable.purge() == 1
    assert await JobRun.count() == 1


def test_redaction_of_arguments_results_and_tracebacks():
    token = "Zt8qP3xY_k2LmN9vR4sT1w"
    assert redact(["mail", 42, token]) == ["mail", 42, MASK]
    assert redact({"password": "x", "user_id": 3, "params": {"q": "dupont"}}) == {
        "password": MASK, "user_id": 3, "params": {"q": "dupont"}}
    link = f"https://tremplin.example/inscription/confirmer/{token}.ZXk2.abcdEFGH1234?next=/"
    assert token not in redact(link) and redact(link).startswith("https://tremplin.example/inscription/confirmer/")
    assert "s3cret" not in redact("ConnectError: password='s3cret' refused")
    assert redact("Bonjour,\n" + "x" * 600) == "[texte masqué, 609 caractères]"
    assert redact("import:42") == "import:42" and redact("alp001.v.blondel") == "alp001.v.blondel"
    named = redact_args(function_of("export_table"), ["users", 3, {"q": "a"}, "short-tok", "xlsx"])
    assert named == {"table_name": "users", "user_id": 3, "params": {"q": "a"}, "token": MASK, "fmt": "xlsx"}


async def test_tremplin_jobs_cli_lists_retries_and_purges(demo, redis_client):
    failed = await jobs.COHORT_SYNC.submit(redis_client, 1)
    await JobRun.update({JobRun.status: "failed", JobRun.tries: 3, JobRun.finished_at: now(),
                         JobRun.error: "Traceback\nRuntimeError: boom token=abcdef123456"}).where(JobRun.id == failed)
    old = await jobs.COHORT_SYNC.submit(redis_client, 2)
    await JobRun.update({JobRun.status: "succeeded", JobRun.finished_at: now() - timedelta(days=40)}).where(
        JobRun.id == old)

    def cli(*args) -> str:
        done = subprocess.run([sys.executable, "-m", "app.cli", "jobs", *args], cwd=ROOT, env=dict(os.environ),
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr and "could not" not in done.stderr, done.stderr
        return done.stdout

    listed = await asyncio.to_thread(cli, "failed")
    assert f"{failed}\tsync_cohort\t[1]\ttries=3" in listed and "boom" in listed and "abcdef123456" not in listed
    assert "1 run(s) failed" in listed
    assert "1 run(s) queued again" in await asyncio.to_thread(cli, "retry", "--all-failed", "--kind", "sync_cohort")
    row = await JobRun.select().where(JobRun.id == failed).first()
    assert row["status"] == "queued" and row["tries"] == 0
    assert await JobAction.count().where((JobAction.run == failed) & (JobAction.detail == "cli")) == 1
    members = [m.decode() for m in await redis_client.zrange(get_settings().redis.queue_name, 0, -1)]
    assert any(m.startswith(f"run:{failed}:c") for m in members), members
    assert "1 run(s) deleted" in await asyncio.to_thread(cli, "purge", "--older-than", "30d")
    assert await JobRun.count() == 2 - 1


async def test_an_aborted_or_abandoned_import_says_so_and_creates_nothing(client, smtp, redis_client, run_jobs):
    """Abort (the dashboard's, with arq's abort key) and the sweep's give-up of a run whose worker
    died on its last try: the batch page says the import failed, not "running" for ever."""
    aborted_batch = await _import_batch(client, _people("Stop", 2))
    assert (await post_form(client, f"/imports/{aborted_batch}/confirmer")).status_code == 303
    run = await JobRun.select().where(JobRun.kind == "import_accounts").first()
    assert await durable.abort(redis_client, [run["id"]], None, "test", bound=BOUND) == 1
    assert await durable.abort(redis_client, [run["id"]], None, "test", bound=BOUND) == 0  # once
    from arq.constants import abort_jobs_ss

    assert await redis_client.zscore(abort_jobs_ss, f"run:{run['id']}:0") is not None
    await run_jobs()
    assert (await JobRun.select(JobRun.status).where(JobRun.id == run["id"]).first())["status"] == "aborted"
    assert await User.count().where(User.email.like("stop%@example.org")) == 0
    action = await JobAction.select().where(JobAction.run == run["id"]).first()
    assert action["action"] == "abort" and action["detail"] == "test"
    page = text((await client.get(f"/imports/{aborted_batch}")).text)
    assert "L'import a échoué ; aucun compte n'a été créé." in page

    abandoned_batch = await _import_batch(client, _people("Perdu", 2))
    assert (await post_form(client, f"/imports/{abandoned_batch}/confirmer")).status_code == 303
    await redis_client.flushdb()
    await ImportBatch.update({ImportBatch.status: "running"}).where(ImportBatch.id == abandoned_batch)
    await JobRun.update({JobRun.status: "running", JobRun.tries: 3, JobRun.started_at: now() - timedelta(hours=2)}).where(
        (JobRun.kind == "import_accounts") & (JobRun.status == "queued"))
    assert await durable.sweep(redis_client, BOUND) == {"enqueued": 0, "failed": 1}
    batch = await ImportBatch.select().where(ImportBatch.id == abandoned_batch).first()
    assert batch["status"] == "failed" and "le worker s'est arrêté" in batch["error"]


async def test_cron_jobs_note_their_last_run_for_the_dashboard(demo, redis_client, run_jobs):
    from datetime import datetime

    before = {c["name"]: c for c in await cron_status(redis_client)}
    assert {"cron:sweep_outbox", "cron:sweep_jobs", "cron:purge_job_runs", "cron:reconcile_cohorts",
            "cron:refresh_analytics", "cron:sweep_convocations", "cron:send_convocation_reminders"} <= set(before)
    assert before["cron:sweep_jobs"]["last"] is None
    assert before["cron:purge_job_runs"]["next_run"] > datetime.now().astimezone()
    await run_jobs()  # the crons run at start-up run
    after = {c["name"]: c for c in await cron_status(redis_client)}
    last = after["cron:sweep_jobs"]["last"]
    assert last["ok"] is True and last["detail"] == '{"enqueued": 0, "failed": 0}'
    assert after["cron:purge_job_runs"]["last"] is None


async def test_cohort_sync_and_certificates_zip_run_in_a_separate_worker_process(client, smtp):
    """The kinds test_worker_process.py does not cover, in `tremplin worker` (ARCHITECTURE: every job
    kind once in a separate process), through the pages that submit them."""
    from tests.jobs.test_cohort_sync import _active, _setup
    from tests.services.test_certificates import completed_session

    ids, sessions, cohort, learners = await _setup()
    session_id, *_ = await completed_session(learners_count=2, complete=2)
    worker, log = processes.start(processes.WORKER, "kinds-worker.log")
    try:
        await login(client, "alp001.get")
        await post_form(client, f"/cohortes/{cohort['id']}/membres", {"go": "add", "add": learners[:3]})
        synced = await post_form(client, f"/sessions/{sessions[0]}/participants/methodes", {"cohort": cohort["id"]})
        assert synced.status_code == 303
        started = await post_form(client, f"/sessions/{session_id}/attestations/zip")
        assert started.status_code == 303

        async def finished():
            runs = await JobRun.select(JobRun.kind, JobRun.status).where(
                JobRun.kind.is_in(["sync_cohort", "build_certificates_zip"]))
            return runs and all(r["status"] == "succeeded" for r in runs) and {r["kind"] for r in runs} == {
                "sync_cohort", "build_certificates_zip"}

        await processes.until(finished, "the cohort sync and the ZIP", "kinds-worker.log")
        assert await _active(sessions[0]) == set(learners[:3])
        page = text((await client.get(started.headers["location"])).text)
        assert "Terminé" in page and "Télécharger les 2 attestations" in page
    finally:
        processes.stop(worker, log)


async def test_a_restarted_worker_with_the_same_hostname_and_pid_does_not_keep_its_predecessors_runs(
        demo, redis_client):
    """Hostile pass (issue 19): the Containerfile's worker restarted by its container (same
    hostname, pid 1 again) was the same WORKER as the process that died, so its heartbeat renewed the
    dead process's runs and the sweep never handed them over (an import stuck an hour)."""
    import socket

    t = now()
    run_id = await jobs.COHORT_SYNC.submit(redis_client, 1)
    await redis_client.flushdb()
    # Held by the process that died: this host, this pid; its heartbeat silent for two minutes.
    await JobRun.update({JobRun.status: "running", JobRun.tries: 1, JobRun.started_at: t - timedelta(minutes=2),
                         JobRun.heartbeat_at: t - timedelta(minutes=2),
                         JobRun.worker: f"{socket.gethostname()}:{os.getpid()}"}).where(JobRun.id == run_id)
    await durable.beat()  # the new process, alive
    assert await durable.sweep(redis_client, BOUND) == {"enqueued": 1, "failed": 0}
    assert (await JobRun.select(JobRun.status).where(JobRun.id == run_id).first())["status"] == "queued"


@pytest.mark.skipif(os.environ.get("TREMPLIN_TEST_DB") == "sqlite", reason="PostgreSQL's connection pool")
async def test_a_worker_whose_jobs_hold_every_pooled_connection_still_beats(demo, redis_client):
    """Hostile pass (issue 19): ten jobs at once (max_jobs) each holding a pooled connection — a long
    import's transaction, cohort syncs waiting on its session lock — left the heartbeat waiting for a
    connection: after a minute the sweep of another worker handed the live worker's runs over and
    they ran twice. The heartbeat has a connection of its own."""
    from app import db

    run_id = await jobs.COHORT_SYNC.submit(redis_client, 1)
    await JobRun.update({JobRun.status: "running", JobRun.tries: 1, JobRun.started_at: now() - timedelta(minutes=2),
                         JobRun.heartbeat_at: now() - timedelta(minutes=2), JobRun.worker: durable.WORKER[:200]}
                        ).where(JobRun.id == run_id)
    pool = db.engine().pool
    held = [await pool.acquire() for _ in range(pool.get_max_size())]
    try:
        assert await asyncio.wait_for(durable.beat(), 5) == 1
    finally:
        for connection in held:
            await pool.release(connection)
    assert (await JobRun.select(JobRun.heartbeat_at).where(JobRun.id == run_id).first())["heartbeat_at"] > \
        now() - timedelta(seconds=30)
