"""Operations dashboard: the Prometheus metrics text."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from piccolo.query.functions.aggregate import Count

from app.dates import now
from app.queue import HEALTH_CHECK_SECONDS
from app.tables.jobs import JobRun
from app.services.ops.common import ACTIVE, _age
from app.services.ops.overview import _oldest, _queue, _run_counts, _workers_seen, health, mail_summary, redis_memory


# -- Prometheus --------------------------------------------------------------------------------
def _label(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value) -> str:
    if value is None:
        return "NaN"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("+Inf" if value > 0 else "-Inf")
    return str(int(value))


async def metrics_text(redis) -> str:
    """/ops/metrics in the Prometheus text exposition format (version 0.0.4)."""
    at = now()
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str, samples: list[tuple[dict, Any]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            text = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            lines.append(f"{name}{{{text}}} {_number(value)}" if text else f"{name} {_number(value)}")

    # Every query reads an index range, not the 30 days of history (a scrape every 15 s).
    active = await JobRun.select(JobRun.kind, JobRun.status, Count(alias="n")).where(
        JobRun.status.is_in(list(ACTIVE))).group_by(JobRun.kind, JobRun.status).order_by(JobRun.kind).order_by(JobRun.status)
    counts = await _run_counts()
    family("tremplin_jobs", "gauge", "Job runs waiting or running now, by status.",
           [({"status": s}, counts[s]) for s in ACTIVE])
    family("tremplin_jobs_by_kind", "gauge", "Job runs waiting or running now, by kind and status.",
           [({"kind": r["kind"], "status": r["status"]}, r["n"]) for r in active])
    finished = await JobRun.select(JobRun.kind, JobRun.status, Count(alias="n")).where(
        JobRun.finished_at >= at - timedelta(days=1)).group_by(JobRun.kind, JobRun.status).order_by(
        JobRun.kind).order_by(JobRun.status)
    family("tremplin_job_runs_finished_24h", "gauge", "Job runs finished in the last 24 hours, by kind and status.",
           [({"kind": r["kind"], "status": r["status"]}, r["n"]) for r in finished])
    failed = await JobRun.select(JobRun.kind, Count(alias="n")).where(JobRun.status == "failed").group_by(
        JobRun.kind).order_by(JobRun.kind)
    family("tremplin_job_failures_total", "counter",
           "Failed job runs recorded, by kind (the purge of runs older than 30 days lowers it: read as a reset).",
           [({"kind": r["kind"]}, r["n"]) for r in failed])
    failed_hour = await JobRun.count().where((JobRun.status == "failed") & (JobRun.finished_at >= at - timedelta(hours=1)))
    family("tremplin_job_failures_last_hour", "gauge", "Job runs failed in the last hour.", [({}, failed_hour)])
    oldest = await _oldest(JobRun, "COALESCE(enqueued_at, created_at)", "status = 'queued'")
    family("tremplin_job_oldest_waiting_seconds", "gauge", "Age of the oldest queued job run (0 when none waits).",
           [({}, _age(oldest, at) or 0.0)])
    oldest_running = await _oldest(JobRun, "started_at", "status = 'running'")
    family("tremplin_job_oldest_running_seconds", "gauge", "Age of the longest running job run (0 when none runs).",
           [({}, _age(oldest_running, at) or 0.0)])
    mail = await mail_summary(at)
    family("tremplin_mail_outbox", "gauge", "Mails of the outbox, by status.",
           [({"status": s}, n) for s, n in mail["counts"].items()])
    family("tremplin_mail_outbox_failing", "gauge",
           "1 when every try of the last hour failed (at least 3 mails tried, none sent).",
           [({}, 1 if mail["trouble"] else 0)])
    family("tremplin_mail_oldest_unsent_seconds", "gauge", "Age of the oldest mail not sent yet (0 when none).",
           [({}, mail["oldest_unsent_age"] or 0.0)])
    workers = await _workers_seen(at)
    family("tremplin_workers_seen", "gauge", "Workers that started a job run in the last hour.", [({}, len(workers))])
    try:
        worker_health = await health(redis)
        queue = await _queue(redis, at)
        memory = await redis_memory(redis)
        redis_up = 1
    except Exception:  # noqa: BLE001
        worker_health, queue, memory, redis_up = {"alive": False, "age": None}, {}, {}, 0
    family("tremplin_redis_up", "gauge", "1 when Redis answered this scrape.", [({}, redis_up)])
    family("tremplin_worker_alive", "gauge",
           f"1 when a worker wrote the queue's arq health check in the last {HEALTH_CHECK_SECONDS + 1} seconds.",
           [({}, 1 if worker_health["alive"] else 0)])
    if worker_health.get("age") is not None:
        family("tremplin_worker_health_age_seconds", "gauge", "Age of the last arq health check.",
               [({}, float(worker_health["age"]))])
    if queue:
        family("tremplin_arq_queue_jobs", "gauge", "Jobs in arq's queue in Redis (durable or not), ready or deferred.",
               [({"state": "ready"}, queue["ready"]), ({"state": "deferred"}, queue["deferred"])])
    if memory:
        family("tremplin_redis_used_memory_bytes", "gauge", "Memory used by Redis (INFO memory).", [({}, memory["used"])])
    return "\n".join(lines) + "\n"
