"""The BPF and the élus' report of a year, computed by polars in the background with progress; the
figures are kept in YearReport (app/services/bpf/reports.py), the progress page links to the BPF page."""

from __future__ import annotations

from app.services import progress
from app.services.auth import load_current_user
from app.services.bpf import compute, reports


async def compute_year_reports(ctx, year: int, user_id: int, token: str) -> int:
    redis = ctx["redis"]
    user = await load_current_user(user_id)
    # Scope recomputed from the user, never trusted from the queue: the BPF is the administrators'.
    if user is None or not user.is_admin:
        await progress.update(redis, token, state="failed", message="Calcul réservé aux administrateurs.")
        return 0
    await progress.update(redis, token, state="running", total=compute.STEPS, done=0)

    async def step(done: int) -> None:
        await progress.update(redis, token, done=done)

    try:
        bpf, elus = await compute.compute(year, step)
        await reports.store(year, bpf, elus, user_id)
    except Exception as exc:
        await progress.update(redis, token, state="failed", message=f"Le calcul a échoué : {type(exc).__name__}.")
        raise
    await progress.update(redis, token, state="done", done=compute.STEPS,
                          result_label=f"Voir le bilan {year}")
    return len(bpf["figures"])
