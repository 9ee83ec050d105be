"""A large session's attendance sheet (feuille d'émargement, issue 12) as a tracked job: laid out
slot by slot in a thread (progress: slots done), stored as the job's result (app/jobs/results.py:
in the database, so any web process serves it) and downloaded by the person who asked, through the
progress page's link."""

from __future__ import annotations

import asyncio

from app.jobs import results
from app.services import attendance, certificates, progress


async def build_attendance_sheet(ctx, session_id: int, user_id: int, token: str, result_url: str = "") -> int:
    # ``result_url``: runs queued before the controller wrote it into the progress carry it here.
    redis = ctx["redis"]
    session = await results.session_in_users_scope(redis, token, user_id, session_id)
    if session is None:
        return 0
    context = await attendance.sheet_context(session)
    total = max(1, len(context["slots"]))
    await progress.update(redis, token, state="running", total=total, done=0)
    counter = results.ThreadProgress(redis, token, total, every=1)
    try:
        pdf = await asyncio.to_thread(attendance.sheet_pdf_sync, context, counter.step)
        stored = await results.store(attendance.sheet_filename(session), "application/pdf", pdf, user_id)
    except Exception as exc:
        await counter.flush(return_exceptions=True)
        await progress.update(redis, token, state="failed",
                              message=f"La création de la feuille d'émargement a échoué : {type(exc).__name__}.")
        raise
    await counter.flush()
    await progress.update(
        redis, token, state="done", done=total, session=session_id, **stored, **results.legacy_url(result_url),
        result_label="Télécharger la feuille d'émargement papier (PDF)")
    return total


async def issue_due_certificates(ctx) -> int:
    """Cron (issue 20): a session with slots certifies only once its last slot has ended and the
    learner's attendance is recorded; whoever completed earlier (attendance saved during the last
    slot, activities done before) gets their certificate here, set-based, then sealed."""
    issued = await certificates.issue_due()
    if issued:
        await certificates.seal(issued, ctx.get("redis"))
    return len(issued)
