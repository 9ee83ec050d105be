"""An import batch: stored for preview, seen and decided by the GET, then confirmed (enqueued)."""

from __future__ import annotations

import asyncio
import secrets
from collections import defaultdict

from piccolo.query.functions.aggregate import Count

from app import db
from app.bulk import bulk_insert
from app.services import progress
from app.services.errors import DomainError, NotFound
from app.services.imports.analyse import COHORT_NAME_MAX, _fit, analyse
from app.services.imports.common import CREATE_DECISIONS, DECISION_LABELS, ROW_COLUMNS, UPDATE_DECISIONS
from app.services.imports.read import read_file
from app.services.roles import CurrentUser
from app.services.scope import require_establishment, row_in_scope
from app.tables.cohorts import Cohort
from app.tables.imports import ImportBatch, ImportRow
from app.jobs import kinds as jobs

async def create_batch(user: CurrentUser, establishment_id: int, filename: str, content: bytes) -> int:
    """Read, analyse and store a file for preview at once; returns the batch id. Nothing is stored
    if refused. The web upload does not wait for the analysis (app/services/imports/upload.py): this
    is the whole path in one call, for scripts, benches and tests of the analysis."""
    establishment = await require_establishment(user, establishment_id)
    parsed = await asyncio.to_thread(read_file, content, filename)
    analysed = await analyse(user, establishment, parsed)
    async with db.transaction():
        batch = await ImportBatch.insert(
            ImportBatch(establishment=establishment_id, created_by=user.id, filename=filename[:255],
                        total_rows=len(analysed))
        ).returning(ImportBatch.id)
        batch_id = batch[0]["id"]
        await store_rows(batch_id, analysed)
    return batch_id


async def store_rows(batch_id: int, analysed: list[dict]) -> None:
    """The analysed rows of a batch, in bulk (the caller's transaction)."""
    await db.plan_once()  # their foreign keys checked without planning each
    await bulk_insert(ImportRow, ROW_COLUMNS, [
        (batch_id, r["line"], _fit(r["first_name"], 100), _fit(r["last_name"], 100), _fit(r["password"], 255),
         _fit(r["email"], 254), _fit(r["matricule"], 50), "\n".join(_fit(c, COHORT_NAME_MAX) for c in r["cohorts"]),
         r["username"], r["status"], "\n".join(r["problems"]), r["existing_user"],
         r["existing_user"] is not None, r["decision"], r["allowed"], "", "")
        for r in analysed
    ])


# -- the batch as the GET sees it ----------------------------------------------------------------
async def batch_in_scope(user: CurrentUser, batch_id: int) -> dict:
    return await row_in_scope(user, ImportBatch, batch_id, "Import introuvable.")


async def batch_summary(batch: dict) -> dict:
    """The counts the preview shows — by status, and what confirming would do now, as the job will
    do it — and the cohorts the import would create. Two grouped queries and one of cohorts."""
    counts = await ImportRow.select(ImportRow.status, ImportRow.decision, Count(ImportRow.id, alias="n")).where(
        ImportRow.batch == batch["id"]).group_by(ImportRow.status, ImportRow.decision)
    summary: dict = defaultdict(int)
    for c in counts:
        summary[c["status"]] += c["n"]
        decision = c["decision"] if c["status"] != "error" else "skip"
        kind = "create" if decision in CREATE_DECISIONS else ("update" if decision in UPDATE_DECISIONS else "skip")
        summary[f"will_{kind}"] += c["n"]
    summary["new_cohorts"] = await cohorts_to_create(batch)
    return summary


async def cohorts_to_create(batch: dict) -> list[str]:
    """The cohort names of the rows to create or update that the establishment does not have yet."""
    named = await ImportRow.select(ImportRow.cohorts).where(
        (ImportRow.batch == batch["id"]) & (ImportRow.cohorts != "") & (ImportRow.status != "error")
        & ImportRow.decision.is_in([*CREATE_DECISIONS, *UPDATE_DECISIONS])).distinct()
    wanted = {c for r in named for c in r["cohorts"].split("\n") if c}
    if not wanted:
        return []
    known = await Cohort.select(Cohort.name).where(
        (Cohort.establishment == batch["establishment"]) & Cohort.name.is_in(sorted(wanted)))
    return sorted(wanted - {c["name"] for c in known})


async def set_decision(user: CurrentUser, batch_id: int, row_id: int, decision: str) -> dict:
    batch = await batch_in_scope(user, batch_id)
    if batch["status"] != "preview":
        raise DomainError("Cet import est déjà lancé : les décisions ne peuvent plus changer.")
    row = await ImportRow.select().where((ImportRow.id == row_id) & (ImportRow.batch == batch_id)).first()
    if row is None:
        raise NotFound("Ligne introuvable.")
    if decision not in row["allowed"]:
        raise DomainError("Cette décision n'est pas possible pour cette ligne.")
    await ImportRow.update({ImportRow.decision: decision}).where(ImportRow.id == row_id)
    row["decision"] = decision
    return row


async def set_decision_for_all(user: CurrentUser, batch_id: int, decision: str) -> int:
    """The same decision for every flagged row that offers it (set-based)."""
    batch = await batch_in_scope(user, batch_id)
    if batch["status"] != "preview":
        raise DomainError("Cet import est déjà lancé : les décisions ne peuvent plus changer.")
    if decision not in DECISION_LABELS:
        raise DomainError("Choisissez une décision de la liste.")
    rows = await ImportRow.update({ImportRow.decision: decision}).where(
        (ImportRow.batch == batch_id)
        & (ImportRow.status != "ok")
        & db.array_has(ImportRow.allowed, decision)
    ).returning(ImportRow.id)
    return len(rows)


async def confirm(user: CurrentUser, batch_id: int, redis) -> str:
    """Lock the decisions and enqueue the job; a second click (double submit) changes nothing."""
    await batch_in_scope(user, batch_id)
    token = secrets.token_urlsafe(16)

    async with db.transaction():
        claimed = await ImportBatch.update({ImportBatch.status: "queued", ImportBatch.token: token}).where(
            (ImportBatch.id == batch_id) & (ImportBatch.status == "preview")
        ).returning(ImportBatch.id, ImportBatch.total_rows)
        if not claimed:
            return ""
        # The durable run commits with the claim; it reaches arq after the commit (or the sweep's).
        await jobs.IMPORT_ACCOUNTS.submit(redis, batch_id, created_by=user.id)
    # The progress bar is a cache: without Redis the import still runs once Redis is back.
    await progress.best_effort(progress.start(redis, token, user.id, "Import des comptes", claimed[0]["total_rows"]),
                               progress.update(redis, token, result_url=f"/imports/{batch_id}",
                                               result_label="Voir le rapport d'import"))
    return token


async def give_up(args_list: list[list], reason: str) -> int:
    """The job layer gave these imports' runs up (their worker died on the last try, an operator
    aborted them): each batch still waiting or running says it failed (one transaction, nothing
    was created), instead of "running" for ever. Returns how many batches."""
    ids = [args[0] for args in args_list if args]
    if not ids:
        return 0
    rows = await ImportBatch.update({ImportBatch.status: "failed", ImportBatch.error: reason[:2000]}).where(
        ImportBatch.id.is_in(ids) & ImportBatch.status.is_in(["queued", "running"])).returning(ImportBatch.id)
    return len(rows)
