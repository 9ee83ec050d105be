"""« Mes données » (issue 25): the ZIP of everything Tremplin holds about the person who asked
(app/services/my_data.py), built in the background and kept for its owner to download (an hour)."""

from __future__ import annotations

import asyncio
import functools

from app.dates import local_now
from app.jobs import results
from app.pdf import bounded
from app.services import my_data, progress

SCRATCH = "my-data"  # the worker's scratch folder under var/


async def export_my_data(ctx, user_id: int, token: str) -> int:
    redis = ctx["redis"]
    await progress.update(redis, token, state="running", total=1, done=0)
    data = await my_data.collect(user_id)
    if not data:
        await progress.update(redis, token, state="failed", message="Ce compte n'existe plus.")
        return 0
    scratch = results.scratch_path(SCRATCH, token, ".zip")
    try:
        pdfs = await my_data.documents(data)
        await asyncio.to_thread(my_data.write_zip, scratch, data, pdfs)
        stored = await results.store(f"{my_data.FILENAME_PREFIX}{local_now():%Y%m%d}.zip", "application/zip", scratch,
                                     user_id)
    except Exception as exc:
        reason = str(exc) if isinstance(exc, bounded.RenderFailed) else type(exc).__name__
        await progress.update(redis, token, state="failed", message=f"La préparation de vos données a échoué : {reason}.")
        raise
    finally:
        scratch.unlink(missing_ok=True)
    await progress.update(redis, token, state="done", done=1, **stored,
                          result_label="Télécharger mes données (ZIP)")
    return sum(len(rows) for rows in data.values())


# A run given up (aborted, its worker dead on the last try): its progress says so (the token is 2nd).
give_up = functools.partial(results.give_up, position=1)
