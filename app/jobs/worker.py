"""The worker: each declared job kind (app/jobs/kinds.py) bound to its function and give-up hook, in
one place (``BOUND``); the cron jobs; arq's WorkerSettings built from them.

The operations on recorded runs that need the bound kinds (app/jobs/durable.py ``dispatch``,
``retry``, ``abort``, ``sweep``) take ``BOUND``: the operations dashboard and the CLI pass it too.
"""

from __future__ import annotations

import asyncio
import functools
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from arq import Worker, cron
from arq.cron import next_cron

from app import cache, db
from app.dates import now
from app.jobs import durable, kinds, my_data, results
from app.jobs.analytics import refresh_analytics
from app.jobs.bpf import compute_year_reports
from app.jobs.attendance import build_attendance_sheet, issue_due_certificates
from app.jobs.certificates import build_certificates_zip, seal_certificates, seal_unsealed_certificates
from app.jobs.convocations import build_convocations, send_convocation_reminders, sweep_convocations
from app.jobs.durable import Bound
from app.jobs.exports import export_table
from app.jobs.files import delete_unreferenced_files
from app.jobs.imports import analyse_import, import_accounts
from app.jobs.mail import send_mail, send_mail_group, sweep_outbox
from app.jobs.redaction import redact
from app.jobs.registration import send_request_notifications
from app.jobs.retention import apply_retention, plan_retention
from app.jobs.sessions import import_session_content, reconcile_cohorts, sync_cohort
from app.jobs.signed_sheets import seal_slot_sheet
from app.jobs.surveys import send_survey_mails
from app.pdf import bounded
from app.queue import HEALTH_CHECK_SECONDS, arq_redis_settings, refuse_eviction, with_timeouts
from app.services import audit, imports, sessions
from app.services.retention import settings as retention_settings
from app.services.signing import sheet as signed_sheet
from app.settings import get_settings

_BINDINGS = [
    Bound(kinds.IMPORT_ANALYSIS, analyse_import, on_give_up=imports.give_up_analysis),
    Bound(kinds.IMPORT_ACCOUNTS, import_accounts, on_give_up=imports.give_up),
    Bound(kinds.IMPORT_MAILS, send_mail_group),
    Bound(kinds.CONTENT_IMPORT, import_session_content, on_give_up=sessions.give_up_content_imports),
    Bound(kinds.REQUEST_NOTIFICATIONS, send_request_notifications),
    Bound(kinds.COHORT_SYNC, sync_cohort),
    Bound(kinds.CERTIFICATES_ZIP, build_certificates_zip, on_give_up=results.give_up),
    Bound(kinds.ATTENDANCE_SHEET, build_attendance_sheet, on_give_up=results.give_up),
    Bound(kinds.MY_DATA, my_data.export_my_data, on_give_up=my_data.give_up),
    Bound(kinds.EXPORT_TABLE, export_table),
    Bound(kinds.SEND_MAIL, send_mail),
    Bound(kinds.SEAL_CERTIFICATES, seal_certificates),
    Bound(kinds.CONVOCATIONS, build_convocations),
    Bound(kinds.CONVOCATION_REMINDERS, send_convocation_reminders),
    Bound(kinds.SLOT_SHEET, seal_slot_sheet, on_give_up=signed_sheet.give_up),
    Bound(kinds.BPF_YEAR, compute_year_reports),
    Bound(kinds.RETENTION, apply_retention),
]
# Every declared kind by name, bound to its function.
BOUND: dict[str, Bound] = {bound.kind.name: bound for bound in _BINDINGS}
if set(BOUND) != set(kinds.KINDS) or len(BOUND) != len(_BINDINGS):
    raise RuntimeError(f"job kinds declared but not bound (or bound twice): {set(kinds.KINDS) ^ set(BOUND)}")


async def sweep_jobs(ctx) -> dict:
    return await durable.sweep(ctx["redis"], BOUND)


async def purge_job_runs(ctx) -> int:
    """Daily: the finished runs older than the kept history (30 days) go, in one DELETE."""
    return await durable.purge()


async def purge_audit_trail(ctx) -> int:
    """Daily: the audit trail's rows older than its retention (setting ``retention_audit_months``) go."""
    return await audit.purge(await retention_settings.period(retention_settings.AUDIT_MONTHS))


def function_of(kind: str):
    """The job function of a kind (for ``redact_args``), or None for a kind no longer declared."""
    bound = BOUND.get(kind)
    return bound.function if bound else None


def _cron_key() -> str:
    return f"{get_settings().redis.queue_name}:cron"


def _recorded(coroutine):
    """A cron coroutine that notes its last run in Redis (arq keeps no result of cron jobs): when it
    started and finished, whether it failed and why (redacted) — for the operations dashboard."""
    @functools.wraps(coroutine)
    async def run(ctx):
        started = now()

        async def note(ok: bool, detail: str) -> None:
            try:
                await ctx["redis"].hset(_cron_key(), f"cron:{coroutine.__qualname__}", json.dumps({
                    "started": started.isoformat(), "finished": now().isoformat(), "ok": ok,
                    "detail": str(redact(detail))[:500]}))
            except Exception:  # noqa: BLE001 - a note for the dashboard, never the cron's failure
                pass

        try:
            result = await coroutine(ctx)
        except Exception as exc:
            await note(False, f"{type(exc).__name__}: {exc}")
            raise
        await note(True, json.dumps(result, default=str) if result is not None else "")
        return result

    return run


def cron_timezone():
    """The time zone of the cron schedules: the platform's (TIMEZONE, Europe/Paris), given to arq's
    worker (app/jobs/worker.py) and used by the dashboard for the next runs — never the server's own,
    so « chaque jour à 03:17 » is 03:17 on the wall clocks of the people using Tremplin."""
    return ZoneInfo(get_settings().timezone)


def cron_jobs() -> list:
    every = max(1, min(60, get_settings().jobs.sweep_every))
    return [
        cron(_recorded(sweep_outbox), second={0}, run_at_startup=True, unique=True),
        # Durable runs whose hand-over to arq was refused or lost, or whose worker died.
        cron(_recorded(sweep_jobs), second=set(range(0, 60, every)), run_at_startup=True, unique=True),
        cron(_recorded(purge_job_runs), hour={3}, minute={17}, second={0}, unique=True),
        cron(_recorded(purge_audit_trail), hour={3}, minute={27}, second={0}, unique=True),
        # Retention of personal data (issue 25): today's run of apply_retention, once a day.
        cron(_recorded(plan_retention), hour={3}, minute={37}, second={0}, unique=True),
        # The full cohort reconciliation, every ten minutes, in case a sync job was lost.
        cron(_recorded(reconcile_cohorts), minute=set(range(0, 60, 10)), second={30}, unique=True),
        # The administrators' unfiltered "TdB des analytics", recomputed before its cache expires.
        cron(_recorded(refresh_analytics), minute=set(range(2, 60, 5)), second={15}, unique=True),
        # Stored files no activity uses any more (replaced, removed, retired), once their grace period is over.
        cron(_recorded(delete_unreferenced_files), minute={47}, second={40}, unique=True),
        # Convocation notices whose build job was lost, and the D-7 / D-1 reminders (in the day, hourly:
        # each is a unique row, so a second run or a second worker mails nothing twice).
        cron(_recorded(sweep_convocations), second={40}, unique=True),
        cron(_recorded(send_convocation_reminders), hour=set(range(7, 20)), minute={5}, second={0}, unique=True),
        # Certificates still unsealed a minute after their issue (their seal job was refused or lost).
        cron(_recorded(seal_unsealed_certificates), second={50}, unique=True),
        # Certificates due since their session's last slot ended (attendance recorded before it), issue 20.
        cron(_recorded(issue_due_certificates), minute=set(range(0, 60, 5)), second={20}, unique=True),
        # Satisfaction surveys (issue 23): invitations due, their mails and the two reminders (each marked in
        # the statement that picks it, so a second run or a second worker mails nothing twice).
        cron(_recorded(send_survey_mails), minute=set(range(3, 60, 10)), second={10}, unique=True),
    ]


async def cron_status(redis) -> list[dict]:
    """Every cron job: its name, its last run as noted by the worker (None before the first: started,
    finished, ok, detail), and its next run (computed as arq does, in the worker's time zone)."""
    notes = await redis.hgetall(_cron_key())
    notes = {(k.decode() if isinstance(k, bytes) else k): json.loads(v) for k, v in notes.items()}
    current = datetime.now(cron_timezone())
    status = []
    for job in cron_jobs():
        upcoming = next_cron(current, month=job.month, day=job.day, weekday=job.weekday, hour=job.hour,
                             minute=job.minute, second=job.second, microsecond=job.microsecond)
        status.append({"name": job.name, "last": notes.get(job.name), "next_run": upcoming})
    return status


def functions() -> list:
    return [bound.arq_function() for bound in BOUND.values()]


_heartbeat: list[asyncio.Task] = []  # this process's heartbeat task (app/jobs/durable.py)


async def startup(ctx) -> None:
    await with_timeouts(ctx["redis"])  # a frozen Redis fails the worker's calls instead of hanging them
    await refuse_eviction(ctx["redis"])  # a queue whose jobs may be evicted loses work silently
    ctx["cache"] = await cache.connect(ctx["redis"])
    # In the embedded mode the app's process already holds the pool: only close what we opened.
    ctx["owns_pool"] = await db.open_pool()
    # The runs this worker holds say it is alive; the sweep relieves those of a dead worker. One
    # heartbeat per process: `tremplin worker` starts a new arq worker after a Redis outage.
    if _heartbeat and not _heartbeat[0].done():
        _heartbeat.pop().cancel()
    _heartbeat[:] = [asyncio.create_task(durable.heartbeat_forever())]


async def shutdown(ctx) -> None:
    while _heartbeat:
        _heartbeat.pop().cancel()
    bounded.close()  # a PDF render still running is killed, not waited for
    await cache.close(ctx.get("cache"), ctx["redis"])
    if ctx.get("owns_pool"):
        await db.close_pool()


def worker_options(**overrides) -> dict:
    options = dict(
        functions=functions(),
        cron_jobs=cron_jobs(),
        # The schedules in the platform's time zone, not the server's (the dashboard shows the same).
        timezone=cron_timezone(),
        # The operations dashboard aborts a queued or running job (arq's Job.abort()).
        allow_abort_jobs=True,
        # The operations dashboard reads arq's health-check key: a worker heard of in the last 11 s is alive
        # (arq's default, an hour, would show a dead worker alive for an hour).
        health_check_interval=HEALTH_CHECK_SECONDS,
        queue_name=get_settings().redis.queue_name,
        on_startup=startup,
        on_shutdown=shutdown,
        max_jobs=10,
        job_timeout=1800,
        keep_result=3600,
        max_tries=3,
    )
    options.update(overrides)
    return options


def build_worker(**overrides) -> Worker:
    """A worker for the in-process (embedded) mode or for tests (burst=True)."""
    options = worker_options(**overrides)
    options.setdefault("handle_signals", False)
    return Worker(redis_settings=arq_redis_settings(), **options)


def worker_settings() -> type:
    """The settings class arq's own command reads (``arq app.jobs.worker.WorkerSettings``): the
    worker ``tremplin worker`` runs — Tremplin's queue, its Redis, its jobs — from worker_options()."""
    return type("WorkerSettings", (), {**worker_options(handle_signals=True), "redis_settings": arq_redis_settings()})


def __getattr__(name: str):
    # Built when arq asks for it, not at import: the app imports this module too, and reading the
    # Redis URL may start the embedded Redis.
    if name == "WorkerSettings":
        return worker_settings()
    if name == "CRON_JOBS":
        return cron_jobs()
    raise AttributeError(name)
