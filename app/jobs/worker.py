"""arq WorkerSettings, built in one place from the job registry (app/jobs/registry.py)."""

from __future__ import annotations

import asyncio

from arq import Worker

from app import db
from app.jobs import durable, registry
from app.queue import HEALTH_CHECK_SECONDS, arq_redis_settings, with_timeouts
from app.settings import get_settings


_heartbeat: list[asyncio.Task] = []  # this process's heartbeat task (app/jobs/durable.py)


async def startup(ctx) -> None:
    # In the embedded mode the app's process already holds the pool: only close what we opened.
    ctx["owns_pool"] = await db.open_pool()
    await with_timeouts(ctx["redis"])  # a frozen Redis fails the worker's calls instead of hanging them
    # The runs this worker holds say it is alive; the sweep relieves those of a dead worker. One
    # heartbeat per process: `tremplin worker` starts a new arq worker after a Redis outage.
    if _heartbeat and not _heartbeat[0].done():
        _heartbeat.pop().cancel()
    _heartbeat[:] = [asyncio.create_task(durable.heartbeat_forever())]


async def shutdown(ctx) -> None:
    while _heartbeat:
        _heartbeat.pop().cancel()
    from app.pdf import bounded

    bounded.close()  # a PDF render still running is killed, not waited for
    if ctx.get("owns_pool"):
        await db.close_pool()


def worker_options(**overrides) -> dict:
    options = dict(
        functions=registry.functions(),
        cron_jobs=registry.cron_jobs(),
        # The schedules in the platform's time zone, not the server's (the dashboard shows the same).
        timezone=registry.cron_timezone(),
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
        return registry.cron_jobs()
    raise AttributeError(name)
