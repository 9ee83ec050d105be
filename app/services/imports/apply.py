"""The import job: the decisions applied set-based, in one transaction, so a crash leaves nothing
half done and a re-run starts clean."""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from app import db
from app.bulk import bulk_insert, bulk_update
from app.dates import now
from app.services import outbox, progress
from app.services.accounts import (
    NewAccount,
    credentials_mail,
    fictitious_email,
    insert_accounts,
    is_fictitious,
    next_free,
    suggest_username,
)
from app.services.auth import load_current_user
from app.services.enrolments import request_sync
from app.services.imports.common import (
    CREATE_DECISIONS,
    INSERT_CHUNK,
    UPDATE_DECISIONS,
    _usernames_with_prefix,
)
from app.services.passwords import (
    generate_password,
    hash_generated_password,
    hash_temporary_password,
    policy_error,
)
from app.services.scope import establishment_scope
from app.services.text import user_text_fields
from app.services.uniqueness import EMAIL_TAKEN, violated_index
from app.settings import get_settings
from app.tables.accounts import User
from app.tables.catalogue import CohortSync
from app.tables.cohorts import Cohort, CohortMember
from app.tables.constraints import EMAIL_UNIQUE_INDEX_NAME
from app.tables.imports import ImportBatch, ImportRow
from app.tables.org import Establishment
from app.jobs import kinds as jobs

ACCOUNT_CHUNK = INSERT_CHUNK * 4  # accounts written (and their passwords hashed) together

# -- the job ------------------------------------------------------------------------------------
async def run_import(redis, batch_id: int) -> dict:
    # "failed" too: a failed import created nothing (one transaction), an operator may run it again.
    claimed = await ImportBatch.update({ImportBatch.status: "running"}).where(
        (ImportBatch.id == batch_id) & ImportBatch.status.is_in(["queued", "running", "failed"])
    ).returning(ImportBatch.token, ImportBatch.establishment, ImportBatch.created_by)
    if not claimed:
        return {"skipped": "not queued"}
    token, establishment_id, created_by = claimed[0]["token"], claimed[0]["establishment"], claimed[0]["created_by"]
    await progress.update(redis, token, state="running")
    try:
        counts, _ = await _apply(redis, batch_id, token, establishment_id, created_by)
    except Exception as exc:
        await ImportBatch.update({ImportBatch.status: "failed", ImportBatch.error: f"{type(exc).__name__}: {exc}"[:2000]}).where(
            ImportBatch.id == batch_id
        )
        message = "L'import a échoué ; aucun compte n'a été créé."
        if violated_index(exc) == EMAIL_UNIQUE_INDEX_NAME:  # an account made meanwhile with a file's address
            message = ("L'import a échoué : une adresse du fichier vient d'être donnée à un autre compte ; aucun "
                       "compte n'a été créé. Relancez l'import : cette ligne sera signalée.")
        await progress.update(redis, token, state="failed", message=message)
        raise
    await progress.update(redis, token, state="done", done=sum(counts.values()))
    return counts


async def _taken_identities(rows: list[dict], establishment_id: int) -> tuple[set[str], set[str]]:
    """The e-mails (lower-cased) of these rows that some account holds, and their matricules that an
    account of the establishment holds."""
    emails, matricules = set(), set()
    for key, where, found in (
            ("email", lambda v: db.among(User.email, v), emails),
            ("matricule", lambda v: db.among(User.matricule, v) & (User.establishment == establishment_id), matricules)):
        values = sorted({r[key] for r in rows if r[key]})
        for start in range(0, len(values), 5000):
            for account in await User.select(User.email, User.matricule).where(where(values[start:start + 5000])):
                found.add(account["email"].lower() if key == "email" else account["matricule"])
    return emails, matricules


@dataclass
class _Run:
    """One run of the job: the batch, its rows, and what the run has done so far."""

    redis: object
    batch_id: int
    token: str
    establishment_id: int
    created_by: int | None
    rows: list[dict]
    # row id -> (outcome, message, username the report shows: the account's, exactly)
    results: dict[int, tuple[str, str, str]] = field(default_factory=dict)
    mails: list[tuple[str, str, str, str, str]] = field(default_factory=list)  # (email, subject, body, attachments, secret)
    created_ids: list[tuple[int, int]] = field(default_factory=list)  # (row id, user id)
    done: int = 0
    t: datetime | None = None


async def _apply(redis, batch_id: int, token: str, establishment_id: int, created_by: int | None):
    establishment = await Establishment.select(Establishment.code).where(Establishment.id == establishment_id).first()
    code = establishment["code"].lower()
    rows = await ImportRow.select().where(ImportRow.batch == batch_id).order_by(ImportRow.line)
    wanted = [r for r in rows if r["status"] != "error" and r["decision"] in r["allowed"]]
    to_create = [r for r in wanted if r["decision"] in CREATE_DECISIONS]
    to_update = [r for r in wanted if r["decision"] in UPDATE_DECISIONS and r["existing_user"]]
    run = _Run(redis, batch_id, token, establishment_id, created_by, rows,
               results={r["id"]: ("skipped", "", "") for r in rows})

    plans = await _plan_creations(run, to_create, code)
    hashes, update_hashes = _hash_passwords(plans, to_update)  # under way while the rows are written
    accounts = await _accounts_to_update(created_by, to_update)
    holders = await _address_holders(to_update)
    given = {p[0]["email"] for p in plans if p[0]["email"]}

    async with db.transaction():
        await db.plan_once()  # the foreign keys of 20,000 accounts, roles, members checked
        run.t = now()
        await _create_accounts(run, plans, hashes)
        await _update_accounts(run, to_update, accounts, holders, given, await update_hashes)
        await _join_cohorts(run)
        queued = await _queue_credentials(run)
        counts = await _write_report(run)
    return counts, queued


# -- before the transaction: what each row will do ----------------------------------------------
async def _plan_creations(run: _Run, to_create: list[dict], code: str) -> list[tuple[dict, str, str, bool]]:
    """(row, username, password, generated?) for each account to create."""
    # A person gets one account, whatever was decided: an e-mail or matricule some account holds
    # by now (created since the preview), or that an earlier row of this import takes, is refused.
    taken_emails, taken_matricules = await _taken_identities(to_create, run.establishment_id)
    used = await _usernames_with_prefix(f"{code}.")
    plans = []
    for r in to_create:
        if (r["email"] and r["email"] in taken_emails) or (r["matricule"] and r["matricule"] in taken_matricules):
            run.results[r["id"]] = ("failed", "Cette adresse ou ce matricule est déjà celui d'un compte : ligne non "
                                              "importée (une personne n'a qu'un compte).", "")
            continue
        taken_emails.add(r["email"])
        taken_matricules.add(r["matricule"])
        # The username the preview showed, or the next free suffix if it was taken meanwhile.
        username = r["username"]
        if not username or username in used:
            username = next_free(suggest_username(code, r["first_name"], r["last_name"]), used)
        used.add(username)
        generated = not r["password"] or bool(policy_error(r["password"]))
        password = generate_password() if generated else r["password"]
        plans.append((r, username, password, generated))
    return plans


def _hash_passwords(plans: list[tuple], to_update: list[dict]) -> tuple[list[asyncio.Future], asyncio.Future]:
    """The new accounts' hashes, a future per chunk of ``_create_accounts`` in the order of ``plans``,
    and a future of the replaced passwords' hashes by row id. Hashed in a thread per core (argon2
    releases the GIL) while the chunks before are written: PostgreSQL works on its own core meanwhile."""
    # Passwords: the file's (when it follows the policy) or a generated one, hashed cheaply
    # (temporary, the change is forced); a generated one with the smallest cost (random: nothing to
    # guess, accounts._generated_hasher).
    replaced = [r for r in to_update if r["decision"] == "update_password" and r["password"]
                and not policy_error(r["password"])]
    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="import-hash")
    loop = asyncio.get_running_loop()
    chunks = [loop.run_in_executor(pool, _hash_part, [(p[2], p[3]) for p in plans[start:start + ACCOUNT_CHUNK]])
              for start in range(0, len(plans), ACCOUNT_CHUNK)]
    replaced_part = loop.run_in_executor(pool, _hash_part, [(r["password"], False) for r in replaced])
    pool.shutdown(wait=False)  # the threads end once the queued parts are hashed

    async def by_row() -> dict[int, str]:
        return dict(zip((r["id"] for r in replaced), await replaced_part))

    return chunks, asyncio.ensure_future(by_row())


def _hash_part(part: list[tuple[str, bool]]) -> list[str]:
    """The hashes of (password, generated?), in order."""
    return [hash_generated_password(p) if generated else hash_temporary_password(p) for p, generated in part]


async def _accounts_to_update(created_by: int | None, to_update: list[dict]) -> dict[int, dict]:
    """Updates stay within what the GET who confirmed may manage, as of now (Scope.users_where)."""
    scope = await establishment_scope(await load_current_user(created_by) if created_by else None)
    accounts: dict[int, dict] = {}
    ids = sorted({r["existing_user"] for r in to_update})
    where = scope.users_where()
    for start in range(0, len(ids), 5000):
        clause = db.among(User.id, ids[start:start + 5000])
        for account in await User.select(User.id, User.username, User.email, User.matricule).where(
                clause if where is None else clause & where):
            accounts[account["id"]] = account
    return accounts


async def _address_holders(to_update: list[dict]) -> dict[str, set[int]]:
    """The active accounts holding each address the file gives an existing account: it must be no
    other's, nor one this import gives to another (one person, one account: the unique index
    app_user_email_unique)."""
    holders: dict[str, set[int]] = defaultdict(set)
    moving = sorted({r["email"] for r in to_update if r["email"] and not is_fictitious(r["email"])})
    for start in range(0, len(moving), 5000):
        for account in await User.select(User.id, User.email).where(
                db.among(User.email, moving[start:start + 5000]) & User.deactivated_at.is_null()):
            holders[account["email"].lower()].add(account["id"])
    return holders


# -- in the transaction -------------------------------------------------------------------------
async def _create_accounts(run: _Run, plans: list[tuple], hashes: list[asyncio.Future]) -> None:
    """The new accounts, learners of the establishment, by chunks (progress after each); the
    credentials mail for each generated password. ``hashes``: a future per chunk."""
    establishment_id, created_by, t = run.establishment_id, run.created_by, run.t
    for start, chunk_hashes in zip(range(0, len(plans), ACCOUNT_CHUNK), hashes):
        chunk = plans[start:start + ACCOUNT_CHUNK]
        new = []
        for (r, username, password, generated), password_hash in zip(chunk, await chunk_hashes):
            email = r["email"] or fictitious_email(username)
            new.append(NewAccount(username=username, password_hash=password_hash, first_name=r["first_name"],
                                  last_name=r["last_name"], email=email, establishment=establishment_id,
                                  status="fph_agent", matricule=r["matricule"], force_password_change=True))
            if generated and not is_fictitious(email):
                run.mails.append((email, *credentials_mail(r["first_name"], username), "", password))
        by_username = await insert_accounts(new, granted_by=created_by, created_at=t)
        for r, username, _, _ in chunk:
            run.created_ids.append((r["id"], by_username[username]))
            run.results[r["id"]] = ("created", "", username)
        run.done += len(chunk)
        await progress.update(run.redis, run.token, done=run.done)
        if get_settings().jobs.test_import_delay:  # the fault tests kill a worker here
            await asyncio.sleep(get_settings().jobs.test_import_delay)


async def _update_accounts(run: _Run, to_update: list[dict], accounts: dict[int, dict], holders: dict[str, set[int]],
                           given: set[str], update_hashes: dict[int, str]) -> None:
    """Updates: the names, and the e-mail and matricule the file gives; the password only when the
    GET chose to replace it. Two batched statements, whatever the number of rows."""
    updates, passwords = [], []
    for r in to_update:
        account = accounts.get(r["existing_user"])
        if account is None:
            run.results[r["id"]] = ("failed", "Le compte existant n'est plus dans votre périmètre : il n'a pas été "
                                              "modifié.", "")
            continue
        # The file's address, unless it is the same one typed with other capitals.
        email = account["email"] if r["email"] in ("", account["email"].lower()) else r["email"]
        if email == r["email"] and not is_fictitious(email) and (
                holders.get(email, set()) - {account["id"]} or email in given):
            run.results[r["id"]] = ("failed", EMAIL_TAKEN + " Le compte n'a pas été modifié.", "")
            continue
        given.add(email.lower())
        keys = user_text_fields(r["first_name"], r["last_name"], account["username"], email)
        updates.append((r["first_name"], r["last_name"], email, r["matricule"] or account["matricule"],
                        keys["search_text"], keys["last_name_key"], keys["first_name_key"], account["id"]))
        if r["id"] in update_hashes:
            passwords.append((update_hashes[r["id"]], True, account["id"]))
        run.created_ids.append((r["id"], account["id"]))
        run.results[r["id"]] = ("updated", "", account["username"])
    await bulk_update(User, [User.first_name, User.last_name, User.email, User.matricule, User.search_text,
                             User.last_name_key, User.first_name_key], User.id, updates)
    # A replaced password writes what every new password writes (auth.new_password_values): the
    # hash, the forced change, a new credentials version (ending the person's other sessions).
    await bulk_update(User, [User.password_hash, User.force_password_change], User.id, passwords)
    replaced_ids = [p[-1] for p in passwords]
    if replaced_ids:
        await User.update({User.credentials_version: User.credentials_version + 1}).where(
            User.id.is_in(replaced_ids))


async def _join_cohorts(run: _Run) -> None:
    """cohortN: membership of the establishment's cohorts, created when missing."""
    row_cohorts = {r["id"]: [c for c in r["cohorts"].split("\n") if c] for r in run.rows}
    wanted_cohorts = sorted({c for rid, _ in run.created_ids for c in row_cohorts.get(rid, [])})
    if not wanted_cohorts:
        return
    known = await _cohort_ids(run.establishment_id, wanted_cohorts)
    pairs = {(known[c], uid) for rid, uid in run.created_ids for c in row_cohorts.get(rid, [])}
    already = await CohortMember.select(CohortMember.cohort, CohortMember.user).where(
        CohortMember.cohort.is_in(sorted(set(known.values()))) & db.among(CohortMember.user, sorted({u for _, u in pairs}))
    ) if pairs else []
    pairs -= {(a["cohort"], a["user"]) for a in already}
    await bulk_insert(CohortMember, [CohortMember.cohort, CohortMember.user, CohortMember.added_at],
                      [(c, u, run.t) for c, u in sorted(pairs)])
    await _sync_cohorts(run, pairs)


async def _cohort_ids(establishment_id: int, names: list[str]) -> dict[str, int]:
    """The establishment's cohorts of these names by name, the missing ones created."""
    known = {c["name"]: c["id"] for c in await Cohort.select(Cohort.id, Cohort.name).where(
        (Cohort.establishment == establishment_id) & Cohort.name.is_in(names))}
    missing = [name for name in names if name not in known]
    if missing:
        new = await Cohort.insert(*[Cohort(establishment=establishment_id, name=n) for n in missing]).returning(
            Cohort.id, Cohort.name)
        known.update({c["name"]: c["id"] for c in new})
    return known


async def _sync_cohorts(run: _Run, pairs: set[tuple[int, int]]) -> None:
    """Cohorts synced with sessions enrol their new members there (seats counted as for every way
    in: app/services/enrolments.sync_cohort), committed with the members."""
    for synced in await CohortSync.select(CohortSync.cohort).where(
            CohortSync.cohort.is_in(sorted({c for c, _ in pairs}) or [-1])).distinct():
        await request_sync(run.redis, synced["cohort"], created_by=run.created_by)


async def _queue_credentials(run: _Run) -> int:
    """The credentials mails in the outbox, and their sending, a durable run committed with the
    accounts and the mails. Returns how many mails were queued."""
    queued = await outbox.queue_mails(run.mails, category="credentials", group_key=f"import:{run.batch_id}")
    if queued:
        await jobs.IMPORT_MAILS.submit(run.redis, f"import:{run.batch_id}", created_by=run.created_by)
    return queued


async def _write_report(run: _Run) -> dict[str, int]:
    """The report: each row's outcome and the username actually created or updated (the rows not
    imported show none). The file's passwords are not kept. Returns the counts."""
    # One statement for every row (app/bulk.py): the outcome, the message, the username, and the
    # file's password erased — four passes over the 20,000 rows before.
    await bulk_update(ImportRow, [ImportRow.outcome, ImportRow.outcome_message, ImportRow.username, ImportRow.password],
                      ImportRow.id, [(outcome, message, username, "", row_id)
                                     for row_id, (outcome, message, username) in run.results.items()])
    counts = {k: 0 for k in ("created", "updated", "skipped", "failed")}
    for outcome, _, _ in run.results.values():
        counts[outcome] += 1
    await ImportBatch.update({
        ImportBatch.status: "done", ImportBatch.created_count: counts["created"],
        ImportBatch.updated_count: counts["updated"], ImportBatch.skipped_count: counts["skipped"],
        ImportBatch.failed_count: counts["failed"], ImportBatch.finished_at: now(),
        ImportBatch.error: "",
    }).where(ImportBatch.id == run.batch_id)
    return counts
