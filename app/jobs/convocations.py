"""Convocation jobs (issue 12, X2): build the mails of a session's waiting notices; the sweep of
notices whose job was lost; the D-7 / D-1 reminders."""

from app.services import convocations


async def build_convocations(ctx, session_id: int, token: str | None = None) -> dict:
    return await convocations.build_pending(ctx["redis"], session_id, token)


async def sweep_convocations(ctx) -> int:
    return await convocations.sweep(ctx["redis"])


async def send_convocation_reminders(ctx) -> int:
    """Idempotent whatever the number of workers: a reminder is a unique row (kind, enrolment)."""
    queued = await convocations.queue_reminders()
    await convocations.dispatch_pending(ctx["redis"])
    return queued
