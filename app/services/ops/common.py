"""Operations dashboard: statuses, labels, redaction and the small helpers its parts share."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any


from app.jobs.redaction import redact as redact_value, redact_args
from app.jobs.worker import function_of
from app.settings import get_settings
from app.tables.jobs import JobRun, JobStatus


log = logging.getLogger("app.services.ops")  # the name it had as one module

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
    "analyse_import": "Analyse d'un fichier d'import de comptes",
    "import_accounts": "Import de comptes",
    "import_session_content": "Import du contenu d'une session",
    "sync_cohort": "Synchronisation d'une cohorte",
    "send_request_notifications": "Notifications d'une demande d'inscription",
    "build_certificates_zip": "Archive des certificats",
    "export_my_data": "Mes données (export RGPD)",
    "build_attendance_sheet": "Feuille d'émargement d'une session (PDF)",
    "sweep_outbox": "Reprise des courriels en attente",
    "reconcile_cohorts": "Réconciliation des cohortes",
    "refresh_analytics": "Calcul du TdB des analytics",
    "sweep_jobs": "Reprise des jobs en attente",
    "purge_job_runs": "Purge de l'historique des jobs (30 jours)",
    "purge_audit_trail": "Purge du journal d'audit (selon sa durée de conservation)",
    "build_convocations": "Convocations d'une session (PDF et invitations)",
    "send_convocation_reminders": "Rappels J-7 et J-1 des convocations",
    "sweep_convocations": "Reprise des convocations en attente",
    "seal_certificates": "Scellement des attestations (PDF et empreinte)",
    "seal_unsealed_certificates": "Scellement des attestations en attente",
    "issue_due_certificates": "Attestations dues après le dernier créneau",
    "delete_unreferenced_files": "Suppression des fichiers inutilisés (après 24 h)",
    "seal_slot_sheet": "Feuille d'émargement signée d'un créneau (PDF et empreinte)",
    "send_survey_mails": "Questionnaires de satisfaction : invitations et relances",
    "apply_retention": "Conservation des données : avertissements, pseudonymisation, suppressions",
    "plan_retention": "Conservation des données : lancement du passage quotidien",
    "compute_year_reports": "Bilan pédagogique et financier et rapport des élus d'une année",
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


def _job_args(raw: str) -> list | None:
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return None
    return value if isinstance(value, list) else None
