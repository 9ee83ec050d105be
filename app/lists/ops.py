"""The lists of the operations dashboard (SPEC G2): the job runs (30 days of history, failed ones
first in mind) and the operators' actions."""

from __future__ import annotations

from app.dates import local_naive
from app.datatable import Col, DataTable, Filter
from app.jobs.worker import worker_options
from app.lists import register
from app.lists._common import since, until
from app.services.ops import ACTION_LABELS, KIND_LABELS, STATUS_LABELS, duration_fr, kind_label, redact
from app.tables.jobs import JobAction, JobRun


async def _kind_options(user) -> list[tuple[str, str]]:
    # The worker's job kinds, and any other the French labels know (cron jobs included).

    options = worker_options()
    names = {getattr(f, "name", None) or f.__qualname__ for f in options["functions"]}  # arq Function or coroutine
    names |= {c.name.split(":", 1)[-1] for c in options["cron_jobs"]} | set(KIND_LABELS)
    return sorted(((n, kind_label(n)) for n in names), key=lambda o: o[1])


def error_line(text: str) -> str:
    """The last line of a traceback (the exception and its message), redacted."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return redact(lines[-1])[:300] if lines else ""


async def _with_duration(rows: list[dict]) -> list[dict]:
    for r in rows:
        started, finished = r.get("started_at"), r.get("finished_at")
        r["duration"] = (finished - started).total_seconds() if started and finished else None
        r["error_line"] = error_line(r.get("error", ""))
    return rows


JOB_RUNS = register(
    DataTable(
        name="job_runs",
        table=JobRun,
        select=(JobRun.id, JobRun.kind, JobRun.status, JobRun.tries, JobRun.max_tries, JobRun.created_at,
                JobRun.started_at, JobRun.finished_at, JobRun.worker, JobRun.error),
        columns=(
            Col("id", "N°", JobRun.id),
            Col("kind", "Type de job", JobRun.kind, export=lambda r: kind_label(r["kind"])),
            Col("status", "État", JobRun.status, export=lambda r: STATUS_LABELS.get(r["status"], r["status"])),
            Col("created_at", "Créé le", JobRun.created_at, export=lambda r: local_naive(r["created_at"])),
            Col("finished_at", "Terminé le", JobRun.finished_at, export=lambda r: local_naive(r["finished_at"])),
            Col("tries", "Essais", export=lambda r: f"{r['tries']}/{r['max_tries']}"),
            Col("duration", "Durée", export=lambda r: duration_fr(r["duration"])),
            Col("error_line", "Erreur"),
        ),
        filters=(
            Filter("kind", "Type de job", lambda v: JobRun.kind == v, kind="select", options=_kind_options),
            Filter("status", "État", lambda v: JobRun.status == v if v in STATUS_LABELS else None, kind="select",
                   options=list(STATUS_LABELS.items())),
            Filter("since", "Créé depuis le", since(JobRun.created_at), kind="date"),
            Filter("until", "Créé jusqu'au", until(JobRun.created_at), kind="date"),
        ),
        default_sort="-id",
        export_filename="jobs",
        enrich=_with_duration,
    )
)

JOB_ACTIONS = register(
    DataTable(
        name="job_actions",
        table=JobAction,
        select=(JobAction.id, JobAction.action, JobAction.detail, JobAction.created_at, JobAction.run,
                JobAction.actor.username.as_alias("actor_name"), JobAction.run.kind.as_alias("run_kind")),
        columns=(
            Col("created_at", "Le", JobAction.created_at, export=lambda r: local_naive(r["created_at"])),
            Col("actor_name", "Par", export=lambda r: r["actor_name"] or ""),
            Col("action", "Action", JobAction.action, export=lambda r: ACTION_LABELS.get(r["action"], r["action"])),
            Col("run", "Job", export=lambda r: r["run"] or ""),
            Col("detail", "Détail"),
        ),
        filters=(
            Filter("action", "Action", lambda v: JobAction.action == v if v in ACTION_LABELS else None, kind="select",
                   options=list(ACTION_LABELS.items())),
            Filter("since", "Depuis le", since(JobAction.created_at), kind="date"),
        ),
        default_sort="-created_at",
        export_filename="actions_jobs",
    )
)
