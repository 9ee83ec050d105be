"""Excel export of a large table, in the background, with progress; the file is the job's result
(app/jobs/results.py: in the database, offered for an hour), downloaded through the progress page's
link, which the code that started the job wrote."""

from app.jobs import results
from app.services import progress
from app.services.auth import load_current_user
from app.datatable import About
from app.lists import MEDIA_TYPES, all_lists, export_filename


async def export_table(ctx, table_name: str, user_id: int, params: dict, token: str, fmt: str = "xlsx") -> int:
    redis = ctx["redis"]
    # The export sees what the user sees now: scope is recomputed from the user, not trusted from the queue.
    user = await load_current_user(user_id)
    table = all_lists().get(table_name)
    if user is None or table is None or fmt not in MEDIA_TYPES:  # fmt names the scratch file: checked first
        await progress.update(redis, token, state="failed", message="Export impossible : utilisateur ou table inconnu.")
        return 0
    await progress.update(redis, token, state="running")

    async def on_progress(done: int) -> None:
        await progress.update(redis, token, done=done)

    # Written to the worker's scratch file, then copied into the database a chunk at a time: a
    # million rows' file (tens of MB) never sits in the worker's memory.
    scratch = results.scratch_path("exports", token, f".{fmt}")
    try:
        try:
            # A table about one object (a session's progress) rebuilds its where clause and columns from
            # the params, as the page did; scope is applied by the table from the user, as always.
            about = await table.about(params) if table.about is not None else About()
            await table.export(user, params, fmt, on_progress=on_progress, extra=about.where,
                               extra_columns=about.columns, heading=about.heading, to=scratch)
        except Exception as exc:
            await progress.update(redis, token, state="failed", message=f"L'export a échoué : {type(exc).__name__}.")
            raise
        filename = export_filename(table, fmt)
        size = scratch.stat().st_size
        stored = await results.store(filename, MEDIA_TYPES[fmt], scratch, user_id)
    finally:
        scratch.unlink(missing_ok=True)
    await progress.update(
        redis, token, state="done", **stored, result_label=f"Télécharger {filename}", format=fmt,
    )
    return size
