"""The daily retention job (issue 25, app/services/retention/job.py): a durable run per day, submitted
by a cron; its result is the report /ops shows (what was warned, pseudonymised, deleted)."""

from __future__ import annotations

from app.dates import local_now
from app.jobs import kinds
from app.services.retention import job


async def apply_retention(ctx, day: str) -> dict:
    """One day's run (``day``: its key). Every step is conditional on what it changes: a second run,
    the same day or after a crash, does only what is left."""
    return await job.run()


async def plan_retention(ctx) -> int | None:
    """Cron: today's run, once (the key is the day: a second worker or a second start submits nothing)."""
    return await kinds.RETENTION.submit(ctx["redis"], local_now().date().isoformat())
