"""The web upload of an import file: the whole-file checks answer at once, the analysis of the rows
runs in a job (issue 24 point 4).

Analysing 20,000 rows (the accounts they match, usernames, passwords, decisions) takes seconds of
Python: on the request's event loop it stalled every other request of the web process. The upload
checks what needs only the file (size, encoding, header, number of lines — off the loop, in a
thread), stores the file and a batch "analysing" with a durable run in one transaction, and the page
shows the job's progress, then the preview. The batch is made once, by the upload: a second copy of
the run, a retry after a dead worker, writes no second set of rows (the batch leaves "analysing" in
the transaction that writes them).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import timedelta

from app import db
from app.dates import now
from app.jobs import kinds as jobs
from app.services import files, progress
from app.services.auth import load_current_user
from app.services.errors import NotFound
from app.services.imports.analyse import analyse
from app.services.imports.batches import store_rows
from app.services.imports.common import ImportRejected
from app.services.imports.read import read_file
from app.services.roles import CurrentUser
from app.services.scope import require_establishment
from app.tables.files import StoredFile
from app.tables.imports import ImportBatch

LABEL = "Analyse du fichier"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GONE = "Le fichier déposé n'est plus disponible : déposez-le de nouveau."
AGAIN = ("Ce fichier vient déjà d'être déposé : voici son import (un même fichier envoyé deux fois, par un double "
         "clic ou depuis deux onglets, n'est importé qu'une fois).")
# A second upload of the same file by the same person within this time, its first batch still being
# analysed or previewed, is a double submit: it gets that batch. Later, or once that batch is
# confirmed, refused or failed, the same file makes a new batch (an import done again on purpose).
AGAIN_WINDOW = timedelta(minutes=10)
NO_LONGER_ALLOWED = ("Le compte qui a déposé ce fichier ne peut plus importer dans cet établissement (suspendu, "
                     "ou ses droits ont changé) : rien n'a été analysé.")


async def upload(user: CurrentUser, establishment_id: int, filename: str, content: bytes, redis) -> tuple[int, bool]:
    """Check the file as a whole (ImportRejected, nothing stored), store it with a batch "analysing"
    and the run that analyses it; returns the batch id, and whether it is the batch of the same
    file uploaded by this person a moment before (a double submit: nothing new is made). The
    batch's page shows the progress."""
    await require_establishment(user, establishment_id)
    parsed = await asyncio.to_thread(read_file, content, filename)
    digest = hashlib.sha256(content).hexdigest()
    token = secrets.token_urlsafe(16)
    content_type = XLSX_TYPE if content[:4] == b"PK\x03\x04" else "text/csv"
    async with db.write_transaction():
        # Two requests with the same file at once: the second waits here for the first's commit,
        # then finds its batch.
        await db.lock_name(f"import-upload:{user.id}:{establishment_id}:{digest}")
        earlier = await ImportBatch.select(ImportBatch.id).where(
            (ImportBatch.created_by == user.id) & (ImportBatch.establishment == establishment_id)
            & (ImportBatch.file_sha256 == digest) & ImportBatch.status.is_in(["analysing", "preview"])
            & (ImportBatch.created_at > now() - AGAIN_WINDOW)).order_by(ImportBatch.id, ascending=False).first()
        if earlier is not None:
            return earlier["id"], True
        file_id = await files.store_generated(filename, content_type, content, user.id)
        batch = await ImportBatch.insert(ImportBatch(
            establishment=establishment_id, created_by=user.id, filename=filename[:255], status="analysing",
            total_rows=len(parsed.rows), token=token, file_sha256=digest)).returning(ImportBatch.id)
        batch_id = batch[0]["id"]
        await jobs.IMPORT_ANALYSIS.submit(redis, batch_id, file_id, created_by=user.id)
    # The progress bar is a cache: without Redis the analysis still runs once Redis is back (the
    # page then says "analysing" without a bar and refreshes itself).
    await progress.best_effort(progress.start(redis, token, user.id, LABEL, len(parsed.rows)),
                               progress.update(redis, token, result_url=f"/imports/{batch_id}",
                                               result_label="Voir l'aperçu de l'import"))
    return batch_id, False


async def analyse_upload(redis, batch_id: int, file_id: int) -> dict:
    """The job: read the stored file again, analyse its rows, write them and open the preview — or
    refuse the batch with the French message the page shows. Then the stored file goes."""
    batch = await ImportBatch.select().where(ImportBatch.id == batch_id).first()
    if batch is None or batch["status"] != "analysing":
        return {"skipped": "not analysing"}
    await progress.best_effort(progress.update(redis, batch["token"], state="running"))
    try:
        analysed = await _analysed(batch, file_id)
    except ImportRejected as rejected:
        if not await refuse([batch_id], rejected.message, redis):
            return {"skipped": "analysed already"}  # by a copy of this run, which took the file
        await StoredFile.delete().where(StoredFile.id == file_id)
        return {"refused": rejected.message}
    async with db.transaction():
        # The claim and the rows commit together: a copy of this run that analysed meanwhile finds
        # the batch out of "analysing" (waiting for this row's lock on PostgreSQL) and writes nothing.
        claimed = await ImportBatch.update({ImportBatch.status: "preview", ImportBatch.total_rows: len(analysed)}).where(
            (ImportBatch.id == batch_id) & (ImportBatch.status == "analysing")).returning(ImportBatch.id)
        if not claimed:
            return {"skipped": "analysed already"}
        await store_rows(batch_id, analysed)
        await StoredFile.delete().where(StoredFile.id == file_id)
    await progress.best_effort(progress.update(redis, batch["token"], state="done", done=len(analysed)))
    return {"rows": len(analysed)}


async def _analysed(batch: dict, file_id: int) -> list[dict]:
    """The batch's rows analysed for the user who uploaded them, as they would have been in the
    request; ImportRejected when that can no longer be done."""
    user = await load_current_user(batch["created_by"]) if batch["created_by"] else None
    if user is None:
        raise ImportRejected(NO_LONGER_ALLOWED)
    try:
        establishment = await require_establishment(user, batch["establishment"])
    except NotFound as exc:
        raise ImportRejected(NO_LONGER_ALLOWED) from exc
    content = await files.content(file_id)
    if content is None:
        raise ImportRejected(GONE)
    parsed = await asyncio.to_thread(read_file, content, batch["filename"])
    return await analyse(user, establishment, parsed)


async def refuse(batch_ids: list[int], message: str, redis=None) -> int:
    """These batches still analysing are refused with this message (their page says it, with the
    upload form). Returns how many batches."""
    rows = await ImportBatch.update({ImportBatch.status: "refused", ImportBatch.error: message[:2000]}).where(
        ImportBatch.id.is_in(batch_ids) & (ImportBatch.status == "analysing")).returning(ImportBatch.token)
    if redis is not None:
        await progress.best_effort(*(progress.update(redis, r["token"], state="failed", message=message)
                                     for r in rows if r["token"]))
    return len(rows)


async def give_up_analysis(args_list: list[list], reason: str) -> int:
    """The job layer gave these analyses up (worker dead on the last try, an operator's abort): the
    batch says so instead of "analysing" for ever. Its stored file is left to the unreferenced-files
    cron (a day)."""
    ids = [args[0] for args in args_list if args]
    if not ids:
        return 0
    return await refuse(ids, f"L'analyse du fichier n'a pas abouti ({reason}) : déposez-le de nouveau.")
