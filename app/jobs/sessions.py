"""Jobs of training sessions: content import from a template, cohort sync."""

from app.services import convocations, enrolments, sessions


async def import_session_content(ctx, import_id: int) -> int:
    return await sessions.run_content_import(ctx["redis"], import_id)


async def sync_cohort(ctx, cohort_id: int) -> dict:
    result = await enrolments.sync_cohort(cohort_id)
    await convocations.dispatch_pending(ctx["redis"])  # the convocations / cancellations it wrote
    return result


async def reconcile_cohorts(ctx) -> int:
    count = await enrolments.sync_all()
    await convocations.dispatch_pending(ctx["redis"])
    return count
