"""Every background job of Tremplin, declared once (SPEC G1): its name (= the arq function name =
``JobRun.kind``), its function, its deduplication key, its tries, its timeout, whether it is
durable. Services submit through these declarations (``await jobs.IMPORT_ACCOUNTS.submit(redis,
batch_id)``), never by a string; the worker's functions and crons come from here.

Mail sends are not tracked as runs: a mail is already its own durable outbox row (``Mail``: status,
tries, backoff, last error, and the outbox sweep), written in the caller's transaction; a JobRun per
mail would double the writes of the largest volume (an import's credentials) and keep a second,
disagreeing retry count. The dashboard reads the outbox from ``Mail``. The job that sends an
import's mails as a group is a durable run like the import itself.
"""

from __future__ import annotations

from arq import cron

from app.jobs import results
from app.jobs.analytics import refresh_analytics
from app.jobs.attendance import build_attendance_sheet, issue_due_certificates
from app.jobs.certificates import build_certificates_zip, seal_certificates, seal_unsealed_certificates
from app.jobs.convocations import build_convocations, send_convocation_reminders, sweep_convocations
from app.jobs.durable import KINDS, JobKind, abort, dispatch, purge, retry, sweep
from app.jobs.exports import export_table
from app.jobs.files import delete_unreferenced_files
from app.jobs.imports import import_accounts
from app.jobs.mail import send_mail, send_mail_group, sweep_outbox
from app.jobs.redaction import redact, redact_args
from app.jobs.registration import send_request_notifications
from app.jobs.sessions import import_session_content, reconcile_cohorts, sync_cohort
from app.services import imports, sessions
from app.settings import get_settings

__all__ = ["KINDS", "JobKind", "abort", "dispatch", "redact", "redact_args", "retry", "function_of", "cron_jobs",
           "cron_status"]

HOUR = 3600

# -- tracked and durable: a JobRun in the caller's transaction, swept while it waits ---------------
IMPORT_ACCOUNTS = JobKind("import_accounts", import_accounts, key=lambda batch_id: f"import:{batch_id}",
                          timeout=HOUR, on_give_up=imports.give_up)
IMPORT_MAILS = JobKind("send_mail_group", send_mail_group, key=lambda group_key: f"mails:{group_key}",
                       timeout=HOUR)
CONTENT_IMPORT = JobKind("import_session_content", import_session_content,
                         key=lambda import_id: f"content-import:{import_id}", timeout=600,
                         on_give_up=sessions.give_up_content_imports)
REQUEST_NOTIFICATIONS = JobKind("send_request_notifications", send_request_notifications,
                                key=lambda request_id: f"request-notify:{request_id}", timeout=300)
# A cohort is synced as often as its members change: every request is a run (no key).
COHORT_SYNC = JobKind("sync_cohort", sync_cohort, timeout=900)
CERTIFICATES_ZIP = JobKind("build_certificates_zip", build_certificates_zip,
                           key=lambda session_id, user_id, token, result_url: f"certificates-zip:{token}",
                           timeout=HOUR, on_give_up=results.give_up)
# A session's attendance sheet too large to lay out in the request (app/services/attendance.py).
ATTENDANCE_SHEET = JobKind("build_attendance_sheet", build_attendance_sheet,
                           key=lambda session_id, user_id, token, result_url: f"attendance-sheet:{token}",
                           timeout=HOUR, on_give_up=results.give_up)

# -- tracked, not durable: somebody waits for it now; after a failure they ask again --------------
EXPORT_TABLE = JobKind("export_table", export_table, durable=False, max_tries=1, timeout=HOUR)

# -- untracked: the outbox row is the durable record (see above) -----------------------------------
SEND_MAIL = JobKind("send_mail", send_mail, durable=False, tracked=False, max_tries=3, timeout=300)
# Rendering and hashing certificates issued many at once: an unsealed certificate is sealed on its
# first download or verification anyway, and by the seal_unsealed_certificates cron after a minute,
# so a lost job loses nothing.
SEAL_CERTIFICATES = JobKind("seal_certificates", seal_certificates, durable=False, tracked=False, timeout=HOUR)
# Like mail, convocations are their own durable rows (ConvocationNotice: pending / building / built,
# claimed in batches, swept every minute): the build job is a plain arq job over them.
CONVOCATIONS = JobKind("build_convocations", build_convocations, durable=False, tracked=False, timeout=HOUR)
CONVOCATION_REMINDERS = JobKind("send_convocation_reminders", send_convocation_reminders, durable=False,
                                tracked=False, timeout=HOUR)


async def sweep_jobs(ctx) -> dict:
    return await sweep(ctx["redis"])


async def purge_job_runs(ctx) -> int:
    """Daily: the finished runs older than the kept history (30 days) go, in one DELETE."""
    return await purge()


def function_of(kind: str):
    """The job function of a kind (for ``redact_args``), or None for a kind no longer declared."""
    declared = KINDS.get(kind)
    return declared.function if declared else None


def _cron_key() -> str:
    return f"{get_settings().redis.queue_name}:cron"


def _recorded(coroutine):
    """A cron coroutine that notes its last run in Redis (arq keeps no result of cron jobs): when it
    started and finished, whether it failed and why (redacted) — for the operations dashboard."""
    import functools
    import json

    from app.dates import now

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
    from zoneinfo import ZoneInfo

    return ZoneInfo(get_settings().timezone)


def cron_jobs() -> list:
    every = max(1, min(60, get_settings().jobs.sweep_every))
    return [
        cron(_recorded(sweep_outbox), second={0}, run_at_startup=True, unique=True),
        # Durable runs whose hand-over to arq was refused or lost, or whose worker died.
        cron(_recorded(sweep_jobs), second=set(range(0, 60, every)), run_at_startup=True, unique=True),
        cron(_recorded(purge_job_runs), hour={3}, minute={17}, second={0}, unique=True),
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
    ]


async def cron_status(redis) -> list[dict]:
    """Every cron job: its name, its last run as noted by the worker (None before the first: started,
    finished, ok, detail), and its next run (computed as arq does, in the worker's time zone)."""
    import json
    from datetime import datetime

    from arq.cron import next_cron

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
    return [kind.arq_function() for kind in KINDS.values()]
