"""arq WorkerSettings: every background job of Tremplin, and the periodic ones."""

from __future__ import annotations

from arq import Worker, cron

from app import db
from app.jobs.certificates import build_certificates_zip
from app.jobs.analytics import refresh_analytics
from app.jobs.exports import export_table
from app.jobs.imports import import_accounts
from app.jobs.sessions import import_session_content, reconcile_cohorts, sync_cohort
from app.jobs.registration import send_request_notifications, sweep_request_notifications
from app.jobs.mail import send_mail, send_mail_group, sweep_outbox
from app.queue import HEALTH_CHECK_SECONDS, arq_redis_settings
from app.settings import get_settings

FUNCTIONS = [send_mail, send_mail_group, export_table, import_accounts, import_session_content, sync_cohort,
             send_request_notifications, build_certificates_zip]
# Each cron job keeps its result an hour (arq keeps none by default): the operations dashboard reads
# its last run, outcome and duration from it.
CRON_RESULT = 3600
CRON_JOBS = [
    cron(sweep_outbox, second={0}, run_at_startup=True, unique=True, keep_result=CRON_RESULT),
    # Registration notifications whose job was refused or lost (a request confirmed over a minute ago).
    cron(sweep_request_notifications, second={20}, unique=True, keep_result=CRON_RESULT),
    # The full cohort reconciliation, every ten minutes, in case a sync job was lost.
    cron(reconcile_cohorts, minute=set(range(0, 60, 10)), second={30}, unique=True, keep_result=CRON_RESULT),
    # The administrators' unfiltered "TdB des analytics", recomputed before its cache expires.
    cron(refresh_analytics, minute=set(range(2, 60, 5)), second={15}, unique=True, keep_result=CRON_RESULT),
]


async def startup(ctx) -> None:
    # In the embedded mode the app's process already holds the pool: only close what we opened.
    ctx["owns_pool"] = await db.open_pool()


async def shutdown(ctx) -> None:
    if ctx.get("owns_pool"):
        await db.close_pool()


def worker_options(**overrides) -> dict:
    options = dict(
        functions=FUNCTIONS,
        cron_jobs=CRON_JOBS,
        queue_name=get_settings().redis.queue_name,
        on_startup=startup,
        on_shutdown=shutdown,
        max_jobs=10,
        job_timeout=1800,
        keep_result=3600,
        max_tries=3,
        # The operations dashboard reads arq's health-check key: a worker heard of in the last 11 s is alive.
        health_check_interval=HEALTH_CHECK_SECONDS,
        # An operator's abort (/ops) cancels a running job.
        allow_abort_jobs=True,
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
    raise AttributeError(name)
