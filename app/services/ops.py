"""The operations dashboard (SPEC G2): what the background work is doing, and the operator's actions.

Read from the durable record (``JobRun``: queued, running, failed runs, durations), from arq's own
Redis keys (the queue, the workers' health check), the cron jobs' notes (app/jobs/worker.py
``cron_status``) and the mail outbox. Acting on runs goes through the job layer
(app/jobs/durable.py ``retry`` and ``abort``: set-based, one JobAction per run, arq told).
What an operator reads of a run goes through the job layer's redaction, then the stricter patterns
below (a token with no digit, a signed link of a small payload).
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from piccolo.query.functions.aggregate import Count, Max

from app import db
from app.dates import now
from app.jobs import durable
from app.jobs.redaction import redact as redact_value, redact_args
from app.jobs.worker import BOUND, cron_jobs, cron_status, function_of
from app.queue import HEALTH_CHECK_SECONDS
from app.services.certificates import RENDER_ATTEMPTS
from app.services.convocations import KIND_LABELS as NOTICE_KINDS
from app.services.errors import DomainError, NotFound
from app.services.mail_health import delivery_trouble, trouble_text
from app.settings import get_settings
from app.tables.certificates import Certificate
from app.tables.convocations import ConvocationNotice, NoticeStatus
from app.tables.jobs import JobAction, JobRun, JobStatus
from app.tables.outbox import Mail

log = logging.getLogger(__name__)

# The worker writes arq's health-check key every HEALTH_CHECK_SECONDS (app/jobs/worker.py); the key
# lives one second more, so a missing key means no worker has been heard of on this queue since.
HEALTH_CHECK_SUFFIX = ":health-check"  # arq.constants.health_check_key_suffix

STATUS_LABELS = {
    JobStatus.queued.value: "En file",
    JobStatus.deferred.value: "Différé",
    JobStatus.running.value: "En cours",
    JobStatus.succeeded.value: "Réussi",
    JobStatus.failed.value: "Échec",
    JobStatus.aborted.value: "Abandonné",
}
ACTIVE = ("queued", "deferred", "running")
RETRYABLE = ("failed", "aborted")
ABORTABLE = ("queued", "deferred", "running")
FINISHED = ("succeeded", "failed")
ACTION_LABELS = {"retry": "Relance", "retry_all": "Relance groupée", "abort": "Abandon"}
# The job kinds (arq function names) in French; an unknown kind shows its own name.
KIND_LABELS = {
    "send_mail": "Envoi d'un courriel",
    "send_mail_group": "Envoi d'un lot de courriels",
    "export_table": "Export d'une liste",
    "import_accounts": "Import de comptes",
    "import_session_content": "Import du contenu d'une session",
    "sync_cohort": "Synchronisation d'une cohorte",
    "send_request_notifications": "Notifications d'une demande d'inscription",
    "build_certificates_zip": "Archive des certificats",
    "build_attendance_sheet": "Feuille d'émargement d'une session (PDF)",
    "sweep_outbox": "Reprise des courriels en attente",
    "reconcile_cohorts": "Réconciliation des cohortes",
    "refresh_analytics": "Calcul du TdB des analytics",
    "sweep_jobs": "Reprise des jobs en attente",
    "purge_job_runs": "Purge de l'historique des jobs (30 jours)",
    "build_convocations": "Convocations d'une session (PDF et invitations)",
    "send_convocation_reminders": "Rappels J-7 et J-1 des convocations",
    "sweep_convocations": "Reprise des convocations en attente",
    "seal_certificates": "Scellement des attestations (PDF et empreinte)",
    "seal_unsealed_certificates": "Scellement des attestations en attente",
    "issue_due_certificates": "Attestations dues après le dernier créneau",
    "delete_unreferenced_files": "Suppression des fichiers inutilisés (après 24 h)",
}
UNSENT_MAIL = ("queued", "sending", "retry")
MAIL_STATUSES = ("queued", "sending", "retry", "failed", "sent")
MASK = "[masqué]"
ADMIN_ONLY = ("Le rôle Exploitation consulte le tableau de bord sans agir : seul un administrateur relance ou "
              "abandonne un job.")
RUN_NOT_FOUND = "Job introuvable."


def retryable():
    """The runs an operator may retry: failed or aborted."""
    return JobRun.status.is_in(list(RETRYABLE))


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


# -- redaction --------------------------------------------------------------------------------
def redact(value: Any) -> str:
    """What an operator may read of a job's arguments, result or traceback, as text: no password,
    token, signed link, cookie or mail body — the job layer's rules (app/jobs/redaction.py), the one
    set the CLI uses too. Over-masking is accepted; a secret shown is not."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            data = json.loads(value)
        except ValueError:
            return str(redact_value(value))
        if isinstance(data, (dict, list)):
            return json.dumps(redact_value(data), ensure_ascii=False, default=str)
        return str(redact_value(value))
    return json.dumps(redact_value(value), ensure_ascii=False, default=str)


def redact_run_args(kind: str, raw: str) -> str:
    """A run's arguments by their parameter names when the kind is declared (``{"batch_id": 42}``:
    the job layer's ``redact_args``, which masks a parameter named like a secret), redacted."""
    function = function_of(kind)
    args = _job_args(raw)
    if function is None or args is None:
        return redact(raw)
    try:
        return redact(redact_args(function, args))
    except Exception:  # noqa: BLE001 - arguments that no longer fit the function: shown as a list
        return redact(raw)


# -- helpers ----------------------------------------------------------------------------------
def _as_datetime(value) -> datetime | None:
    """Aggregates (MIN, MAX) come back as text on SQLite."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=timezone.utc)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _age(since: datetime | None, at: datetime) -> float | None:
    return None if since is None else max(0.0, (at - since).total_seconds())


def duration_fr(seconds: float | None) -> str:
    """A duration for people: "850 ms", "12 s", "3 min 05 s", "2 h 10 min", "3 j 4 h"."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{int(round(seconds * 1000))} ms"
    if seconds < 60:
        return f"{seconds:.1f} s".replace(".", ",") if seconds < 10 else f"{int(seconds)} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} j {hours} h"


def queue_name() -> str:
    return get_settings().redis.queue_name


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
    """Convocation notices given up after their attempts (app/services/convocations.py): how many,
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
    """Certificates whose PDF could not be generated (app/services/certificates.py, « échec de
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
    every open tab): the rows and when they were computed. Without Redis, computed each time."""
    key = f"{queue_name()}:ops:kind-stats"
    try:
        cached = await redis.get(key)
    except Exception:  # noqa: BLE001
        cached, redis = None, None
    if cached:
        data = json.loads(cached)
        return data["rows"], datetime.fromisoformat(data["at"])
    at = now()
    rows = await kind_stats(at)
    if redis is not None:
        try:
            await redis.set(key, json.dumps({"rows": rows, "at": at.isoformat()}), ex=KIND_STATS_TTL)
        except Exception:  # noqa: BLE001
            pass
    return rows, at


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


def _job_args(raw: str) -> list | None:
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return None
    return value if isinstance(value, list) else None


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
