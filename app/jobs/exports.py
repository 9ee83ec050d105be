"""Excel export of a large table, in the background, with progress."""

from app.services import progress
from app.services.auth import load_current_user
from app.lists import all_lists, export_filename

EXPORT_TTL = 3600


async def export_table(ctx, table_name: str, user_id: int, params: dict, token: str) -> int:
    redis = ctx["redis"]
    # The export sees what the user sees now: scope is recomputed from the user, not trusted from the queue.
    user = await load_current_user(user_id)
    table = all_lists().get(table_name)
    if user is None or table is None:
        await progress.update(redis, token, state="failed", message="Export impossible : utilisateur ou table inconnu.")
        return 0
    await progress.update(redis, token, state="running")

    async def on_progress(done: int) -> None:
        await progress.update(redis, token, done=done)

    try:
        content = await table.export_xlsx(user, params, on_progress=on_progress)
    except Exception as exc:
        await progress.update(redis, token, state="failed", message=f"L'export a échoué : {type(exc).__name__}.")
        raise
    filename = export_filename(table)
    await redis.set(f"export:{token}", content, ex=EXPORT_TTL)
    await progress.update(
        redis, token, state="done", filename=filename, result_url=f"/exports/{token}",
        result_label=f"Télécharger {filename}",
    )
    return len(content)
