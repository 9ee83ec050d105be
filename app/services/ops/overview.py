"""Operations dashboard: the overview (health, workers, queue, crons, mail, failures, Redis memory)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from piccolo.query.functions.aggregate import Count, Max

from app.dates import now
from app.jobs.worker import cron_jobs, cron_status
from app.queue import HEALTH_CHECK_SECONDS
from app.services.certificates import RENDER_ATTEMPTS
from app.services.convocations import KIND_LABELS as NOTICE_KINDS
from app.services.mail_health import delivery_trouble, trouble_text
from app.settings import get_settings
from app.tables.certificates import Certificate
from app.tables.convocations import ConvocationNotice, NoticeStatus
from app.tables.jobs import JobRun
from app.tables.outbox import Mail
from app.services.ops.common import ACTIVE, HEALTH_CHECK_SUFFIX, MAIL_STATUSES, UNSENT_MAIL, _age, _as_datetime, kind_label, log, queue_name, redact


# -- the overview -----------------------------------------------------------------------------
@dataclass
class Overview:
    at: datetime
    counts: dict[str, int]
    running: list[dict]
    oldest_waiting: float | None
    next_deferred: datetime | None
    failed_hour: int
    failed_day: int
    queue: dict
    health: dict
    workers: list[dict]
    crons: list[dict]
    mail: dict
    redis_memory: dict
    notes: list[str] = field(default_factory=list)
    convocations: dict = field(default_factory=dict)
    certificates: dict = field(default_factory=dict)


async def _run_counts() -> dict[str, int]:
    rows = await JobRun.select(JobRun.status, Count(alias="n")).where(JobRun.status.is_in(list(ACTIVE))).group_by(
        JobRun.status)
    counts = dict.fromkeys(ACTIVE, 0)
    counts.update({r["status"]: r["n"] for r in rows})
    return counts


async def _oldest(table, column_sql: str, where_sql: str):
    rows = await table.raw(f"SELECT MIN({column_sql}) AS oldest FROM {table._meta.tablename} WHERE {where_sql}")
    return _as_datetime(rows[0]["oldest"]) if rows else None


async def health(redis) -> dict:
    """arq's health check of this queue: the key the worker sets every HEALTH_CHECK_SECONDS (with its
    counters, "j_complete=… j_failed=… queued=…"); its age from the key's remaining life."""
    key = queue_name() + HEALTH_CHECK_SUFFIX
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(key)
        pipe.pttl(key)
        value, ttl = await pipe.execute()
    if value is None:
        return {"alive": False, "key": key, "age": None, "info": "", "counters": {}}
    text = value.decode() if isinstance(value, bytes) else str(value)
    lifetime = (HEALTH_CHECK_SECONDS + 1) * 1000
    age = max(0.0, (lifetime - ttl) / 1000) if ttl and ttl > 0 and ttl <= lifetime else None
    counters = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", text)}
    return {"alive": True, "key": key, "age": age, "info": text, "counters": counters}


async def _workers_seen(at: datetime) -> list[dict]:
    """The workers that started a run in the last hour (JobRun.worker), with their last start."""
    rows = await JobRun.select(JobRun.worker, Max(JobRun.started_at, alias="last_started"), Count(alias="runs")).where(
        (JobRun.started_at >= at - timedelta(hours=1)) & (JobRun.worker != "")).group_by(JobRun.worker).order_by(
        JobRun.worker)
    for r in rows:
        r["last_started"] = _as_datetime(r["last_started"])
        r["age"] = _age(r["last_started"], at)
    return rows


async def _queue(redis, at: datetime) -> dict:
    """arq's queue in Redis: every job waiting there (durable or not), ready or deferred."""
    name = queue_name()
    at_ms = int(at.timestamp() * 1000)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcard(name)
        pipe.zcount(name, "-inf", at_ms)
        pipe.zrange(name, 0, 0, withscores=True)
        total, ready, first = await pipe.execute()
    oldest = None
    if first and ready:
        oldest = max(0.0, (at_ms - first[0][1]) / 1000)
    return {"name": name, "total": total, "ready": ready, "deferred": total - ready, "oldest_ready_age": oldest}


async def crons(redis, at: datetime) -> list[dict]:
    """Each cron job of the worker: its next run, and its last one as the job noted it in Redis
    (app/jobs/worker.py ``cron_status``: started, finished, ok, detail — arq keeps no result of a
    cron job)."""
    schedules = {c.name: c for c in cron_jobs()}
    rows = []
    for status in await cron_status(redis):
        name = status["name"].split(":", 1)[-1]
        note = status.get("last") or None
        last = None
        if note:
            finished, started = _as_datetime(note.get("finished")), _as_datetime(note.get("started"))
            last = {"at": finished, "success": note.get("ok"), "detail": redact(note.get("detail") or ""),
                    "duration": (finished - started).total_seconds() if finished and started else None}
        upcoming = status.get("next_run")
        rows.append({"name": name, "label": kind_label(name), "last": last, "running": False,
                     "schedule": _schedule_text(schedules[status["name"]]) if status["name"] in schedules else "",
                     "next": upcoming.astimezone(timezone.utc) if upcoming else None,
                     "last_age": _age(last["at"], at) if last and last["at"] else None})
    return rows


def _one(option) -> int | None:
    if isinstance(option, int):
        return option
    return next(iter(option)) if isinstance(option, (set, list, tuple)) and len(option) == 1 else None


def _step(option) -> int | None:
    ordered = sorted(option) if isinstance(option, (set, list, tuple)) and len(option) > 1 else None
    if ordered and all(b - a == ordered[1] - ordered[0] for a, b in zip(ordered, ordered[1:])):
        return ordered[1] - ordered[0]
    return None


def _schedule_text(cron_job) -> str:
    """A cron job's schedule in words: "toutes les 30 secondes", "chaque minute (à :20 s)",
    "toutes les 10 minutes", "chaque jour à 03:17 (Europe/Paris)" — the worker's time zone (TIMEZONE)."""
    minute, second, hour = cron_job.minute, cron_job.second, cron_job.hour
    if cron_job.day is None and cron_job.month is None and cron_job.weekday is None:
        if minute is None and hour is None:
            if _step(second):
                return f"toutes les {_step(second)} secondes"
            if _one(second) is not None:
                return f"chaque minute (à :{_one(second):02d} s)"
        if hour is None and _step(minute):
            return f"toutes les {_step(minute)} minutes"
        if _one(hour) is not None and _one(minute) is not None:
            return f"chaque jour à {_one(hour):02d}:{_one(minute):02d} ({get_settings().timezone})"
    return "planifié"


async def mail_summary(at: datetime) -> dict:
    rows = await Mail.select(Mail.status, Count(alias="n")).group_by(Mail.status)
    counts = dict.fromkeys(MAIL_STATUSES, 0)
    others = 0
    for r in rows:
        if r["status"] in counts:
            counts[r["status"]] = r["n"]
        else:
            others += r["n"]
    # A mail to a fictitious address (a person without e-mail) is never sent, by design: not a failure.
    fictive = await Mail.count().where((Mail.status == "failed") & (Mail.tries == 0)
                                       & Mail.intended_recipients.like("%.fictif@%"))
    counts["failed"] -= fictive
    counts["fictive"] = fictive
    statuses = ", ".join(f"'{s}'" for s in UNSENT_MAIL)
    oldest = await _oldest(Mail, "created_at", f"status IN ({statuses})")

    return {"counts": counts, "others": others, "oldest_unsent": oldest, "oldest_unsent_age": _age(oldest, at),
            "trouble": await delivery_trouble(at)}


async def convocation_failures(limit: int = 10) -> dict:
    """Convocation notices given up after their attempts (app/services/convocations/): how many,
    and the latest with their session and last error (redacted)."""
    failed = ConvocationNotice.status == NoticeStatus.failed
    latest = await ConvocationNotice.select(
        ConvocationNotice.id, ConvocationNotice.kind, ConvocationNotice.attempts, ConvocationNotice.last_error,
        ConvocationNotice.built_at, ConvocationNotice.session.code.as_alias("session_code"),
    ).where(failed).order_by(ConvocationNotice.id, ascending=False).limit(limit)

    for r in latest:
        r["last_error"] = redact(r["last_error"])
        r["kind"] = NOTICE_KINDS.get(r["kind"], r["kind"])
    return {"count": await ConvocationNotice.count().where(failed), "latest": latest}


async def certificate_failures(limit: int = 10) -> dict:
    """Certificates whose PDF could not be generated (app/services/certificates/seal.py, « échec de
    génération »): how many, how many given up, and the latest with their session and reason."""
    failed = (Certificate.pdf_sha256 == "") & (Certificate.render_error != "") & (Certificate.status == "valid")
    latest = await Certificate.select(
        Certificate.id, Certificate.render_attempts, Certificate.render_error,
        Certificate.enrolment.session.code.as_alias("session_code"),
    ).where(failed).order_by(Certificate.id, ascending=False).limit(limit)
    for r in latest:
        r["render_error"] = redact(r["render_error"])
    return {"count": await Certificate.count().where(failed), "latest": latest,
            "given_up": await Certificate.count().where(failed & (Certificate.render_attempts >= RENDER_ATTEMPTS))}


async def redis_memory(redis) -> dict:
    info = await redis.info("memory")
    return {"used": info.get("used_memory", 0), "peak": info.get("used_memory_peak", 0),
            "max": info.get("maxmemory", 0), "policy": info.get("maxmemory_policy", "")}


async def overview(redis) -> Overview:
    at = now()
    counts = await _run_counts()
    running = await JobRun.select(JobRun.id, JobRun.kind, JobRun.worker, JobRun.started_at, JobRun.tries,
                                  JobRun.max_tries).where(JobRun.status == "running").order_by(
        JobRun.started_at).limit(10)
    for r in running:
        r["age"] = _age(r["started_at"], at)
    oldest_waiting = await _oldest(JobRun, "COALESCE(enqueued_at, created_at)", "status = 'queued'")
    next_deferred = await _oldest(JobRun, "run_at", "status = 'deferred'")
    failed_day = await JobRun.count().where((JobRun.status == "failed") & (JobRun.finished_at >= at - timedelta(days=1)))
    failed_hour = await JobRun.count().where((JobRun.status == "failed") & (JobRun.finished_at >= at - timedelta(hours=1)))
    notes = []
    try:
        queue, worker_health, cron_list, memory = (await _queue(redis, at), await health(redis), await crons(redis, at),
                                                   await redis_memory(redis))
    except Exception as error:  # noqa: BLE001 - Redis down: the database half of the page still tells the truth
        log.warning("ops overview: Redis unavailable: %s", error)
        notes.append("Redis ne répond pas : la file arq, la santé des workers, les tâches planifiées et la mémoire "
                      "ne sont pas affichées. Les chiffres des jobs viennent de la base de données.")
        queue, worker_health, cron_list, memory = {}, {"alive": False, "age": None, "counters": {}}, [], {}
    mail = await mail_summary(at)
    if mail["trouble"]:
        notes.insert(0, redact(trouble_text(mail["trouble"])))
    return Overview(
        at=at, counts=counts, running=running, oldest_waiting=_age(oldest_waiting, at), next_deferred=next_deferred,
        failed_hour=failed_hour, failed_day=failed_day, queue=queue, health=worker_health,
        workers=await _workers_seen(at), crons=cron_list, mail=mail, redis_memory=memory,
        notes=notes, convocations=await convocation_failures(), certificates=await certificate_failures(),
    )
