"""Jobs of training sessions: content import from a template, cohort sync."""

from app.services import enrolments, sessions


async def import_session_content(ctx, import_id: int) -> int:
    return await sessions.run_content_import(ctx["redis"], import_id)


async def sync_cohort(ctx, cohort_id: int) -> dict:
    return await enrolments.sync_cohort(cohort_id)


async def reconcile_cohorts(ctx) -> int:
    return await enrolments.sync_all()
