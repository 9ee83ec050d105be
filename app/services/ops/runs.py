"""Operations dashboard: per-kind statistics, one run's detail, and retry / abort through the job layer."""

from __future__ import annotations

import math
from datetime import datetime, timedelta


from app import cache, db
from app.dates import now
from app.jobs import durable
from app.jobs.worker import BOUND
from app.services.errors import DomainError, NotFound
from app.tables.jobs import JobAction, JobRun
from app.services.ops.common import ABORTABLE, FINISHED, RUN_NOT_FOUND, STATUS_LABELS, _as_datetime, kind_label, queue_name, redact, redact_run_args


# -- per kind: runs, failure rate, durations ----------------------------------------------------
def _percentile(values: list[float], p: float) -> float | None:
    """Linear interpolation between the closest ranks, as PostgreSQL's percentile_cont."""
    if not values:
        return None
    ordered = sorted(values)
    position = p * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


_KIND_STATS_SQL = """
SELECT kind,
  COUNT(*) FILTER (WHERE recent) AS runs_day,
  COUNT(*) FILTER (WHERE recent AND failed) AS failed_day,
  percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY seconds) FILTER (WHERE recent) AS p_day,
  COUNT(*) AS runs_month,
  COUNT(*) FILTER (WHERE failed) AS failed_month,
  percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY seconds) AS p_month
FROM (
  SELECT kind, status = 'failed' AS failed, finished_at >= {} AS recent,
         date_part('epoch', finished_at - started_at) AS seconds
  FROM job_run WHERE finished_at >= {} AND status IN ('succeeded', 'failed')
) AS runs
GROUP BY kind ORDER BY kind
"""
KIND_STATS_TTL = 60  # seconds: durations over a day and a month need not move every 5 s


async def kind_stats(at: datetime | None = None) -> list[dict]:
    """Per job kind, over 24 hours and 30 days of finished runs (succeeded or failed): runs, failures,
    failure rate, p50 and p95 of the duration (started → finished). One query on PostgreSQL
    (percentile_cont, both centiles from one sort per kind and span, of float8 seconds: EXTRACT's
    numeric sorts a quarter slower); on the embedded SQLite, the
    durations are read and ranked in Python."""
    at = at or now()
    day, month = at - timedelta(days=1), at - timedelta(days=30)
    if not db.is_sqlite():
        rows = await JobRun.raw(_KIND_STATS_SQL, day, month)
        for r in rows:
            for span in ("day", "month"):
                centiles = r.pop(f"p_{span}") or [None, None]
                r[f"p50_{span}"], r[f"p95_{span}"] = centiles
    else:
        raw = await JobRun.select(JobRun.kind, JobRun.status, JobRun.started_at, JobRun.finished_at).where(
            (JobRun.finished_at >= month) & JobRun.status.is_in(list(FINISHED)))
        grouped: dict[str, list[dict]] = {}
        for r in raw:
            grouped.setdefault(r["kind"], []).append(r)
        rows = []
        for kind in sorted(grouped):
            runs = grouped[kind]
            recent = [r for r in runs if _as_datetime(r["finished_at"]) >= day]

            def durations(items):
                return [(_as_datetime(r["finished_at"]) - _as_datetime(r["started_at"])).total_seconds()
                        for r in items if r["started_at"] is not None]

            rows.append({
                "kind": kind, "runs_day": len(recent), "failed_day": sum(r["status"] == "failed" for r in recent),
                "p50_day": _percentile(durations(recent), 0.5), "p95_day": _percentile(durations(recent), 0.95),
                "runs_month": len(runs), "failed_month": sum(r["status"] == "failed" for r in runs),
                "p50_month": _percentile(durations(runs), 0.5), "p95_month": _percentile(durations(runs), 0.95),
            })
    for r in rows:
        r["label"] = kind_label(r["kind"])
        for span in ("day", "month"):
            runs = r[f"runs_{span}"]
            r[f"rate_{span}"] = (100.0 * r[f"failed_{span}"] / runs) if runs else None
            for p in ("p50", "p95"):
                value = r[f"{p}_{span}"]
                r[f"{p}_{span}"] = None if value is None else float(value)
    return rows


async def kind_stats_cached(redis) -> tuple[list[dict], datetime]:
    """``kind_stats`` at most once a KIND_STATS_TTL per queue (the overview refreshes every 5 s, from
    every open tab, and one process computes it on a miss: app/cache.py): the rows and when they were
    computed. ``redis`` is the cache's; without it (or when it is down), computed each time."""
    async def compute() -> dict:
        at = now()
        return {"rows": await kind_stats(at), "at": at.isoformat()}

    data, _ = await cache.cached(redis, f"{queue_name()}:ops:kind-stats", KIND_STATS_TTL, compute)
    return data["rows"], datetime.fromisoformat(data["at"])


# -- one run ----------------------------------------------------------------------------------
async def run_detail(run_id: int) -> dict:
    row = await JobRun.select(JobRun.all_columns(), JobRun.created_by.username.as_alias("created_by_name")).where(
        JobRun.id == run_id).first()
    if row is None:
        raise NotFound(RUN_NOT_FOUND)
    row["args_shown"] = redact_run_args(row["kind"], row["args"])
    row["error_shown"] = redact(row["error"])
    row["result_shown"] = redact(row["result"])
    row["label"] = kind_label(row["kind"])
    started, finished = row["started_at"], row["finished_at"]
    row["duration"] = (finished - started).total_seconds() if started and finished else None
    row["actions"] = await JobAction.select(JobAction.all_columns(), JobAction.actor.username.as_alias("actor_name")).where(
        JobAction.run == run_id).order_by(JobAction.id, ascending=False)
    return row


# -- acting on runs (the job layer: app/jobs/durable.py) --------------------------------------
async def retry_runs(redis, run_ids: list[int], actor_id: int | None, detail: str = "") -> int:
    """Retry failed or aborted runs (the others are left alone): the job layer's ``retry`` — status
    queued, tries 0, the last error kept, one JobAction per run, handed to arq. Returns how many."""
    return await durable.retry(redis, sorted({int(i) for i in run_ids}), actor_id, detail, BOUND)


async def retry_matching(redis, clauses: list, actor_id: int | None, description: str) -> int:
    """Retry every failed or aborted run matching the list's filter (``clauses``): their ids in one
    query, then one ``retry`` of the set."""
    query = JobRun.select(JobRun.id)
    rows = await (query.where(*clauses) if clauses else query)
    return await retry_runs(redis, [r["id"] for r in rows], actor_id, f"Relance groupée — {description}")


async def abort_run(redis, run_id: int, actor_id: int | None) -> dict:
    """Abort a queued, deferred or running run: the job layer's ``abort`` (status aborted, arq told
    to cancel it, the kind's give-up hook, one JobAction)."""
    row = await JobRun.select(JobRun.id, JobRun.kind, JobRun.status).where(JobRun.id == run_id).first()
    if row is None:
        raise NotFound(RUN_NOT_FOUND)
    if row["status"] not in ABORTABLE:
        raise DomainError(f"Ce job est « {STATUS_LABELS.get(row['status'], row['status'])} » : seul un job en file, "
                          "différé ou en cours peut être abandonné.")
    done = await durable.abort(redis, [run_id], actor_id, f"était « {STATUS_LABELS.get(row['status'], row['status'])} »",
                               bound=BOUND)
    if not done:
        raise DomainError("Ce job vient de changer d'état : rechargez la page et recommencez.")
    return row
