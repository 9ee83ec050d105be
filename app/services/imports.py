"""CSV import of accounts, one file per establishment (SPEC A3).

upload -> ``read_file`` (whole-file checks: nothing is written if the file is refused)
       -> ``analyse`` + ``create_batch`` (one ImportRow per line, with its problems and the
          decisions it offers) -> the GET decides per problem row -> ``confirm`` enqueues
       -> ``run_import`` (the job): set-based, in one transaction, so a crash leaves nothing half
          done and a re-run starts clean.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field

import polars as pl

from app import db
from app.bulk import bulk_insert
from app.dates import now
from app.services import outbox, progress
from app.services.accounts import (
    EMAIL_RE,
    normalise_email,
    credentials_mail,
    fictitious_email,
    hash_temporary_password,
    is_fictitious,
    next_free,
    normalise_matricule,
    suggest_username,
)
from app.services.auth import new_password_values
from app.services.errors import DomainError, NotFound, ScopeError
from app.services.passwords import generate_password, policy_error
from app.services.roles import LEARNER, CurrentUser
from app.services.scope import establishment_scope, require_establishment
from app.services.text import user_text_fields
from app.settings import get_settings
from app.tables.accounts import RoleAssignment, User
from app.tables.cohorts import Cohort, CohortMember
from app.tables.imports import ImportBatch, ImportRow
from app.tables.org import Establishment

REQUIRED = ["firstname", "lastname", "password", "email", "profile_field_matricule"]
COHORT_RE = re.compile(r"^cohort[1-9][0-9]*$")
EXPECTED_TEXT = "firstname, lastname, password, email, profile_field_matricule (puis cohort1, cohort2… facultatives)"
INSERT_CHUNK = 500
DECISION_LABELS = {
    "create": "Créer le compte",
    "skip": "Ignorer la ligne",
    "update": "Mettre à jour le compte existant",
    "suffix": "Créer avec un nom d'utilisateur suffixé",
}
JOB = "import_accounts"
ROW_COLUMNS = [
    ImportRow.batch, ImportRow.line, ImportRow.first_name, ImportRow.last_name, ImportRow.password, ImportRow.email,
    ImportRow.matricule, ImportRow.cohorts, ImportRow.username, ImportRow.status, ImportRow.problems,
    ImportRow.existing_user, ImportRow.existing_in_scope, ImportRow.decision, ImportRow.allowed, ImportRow.outcome,
    ImportRow.outcome_message,
]
USER_COLUMNS = [
    User.username, User.password_hash, User.first_name, User.last_name, User.email, User.establishment, User.status,
    User.matricule, User.is_suspended, User.force_password_change, User.search_text, User.last_name_key,
    User.first_name_key, User.created_at,
]


class ImportRejected(DomainError):
    status_code = 422


@dataclass
class ParsedFile:
    columns: list[str]
    rows: list[dict[str, str]]  # {column: value}, stripped, with "_line"
    cohort_columns: list[str] = field(default_factory=list)


# -- reading the file ---------------------------------------------------------------------------
def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        # French Excel saves "CSV (séparateur: point-virgule)" in Windows-1252.
        return content.decode("windows-1252")
    except UnicodeDecodeError as exc:
        raise ImportRejected(
            "Le fichier n'est ni en UTF-8 ni en Windows-1252 : enregistrez-le depuis Excel au format "
            "« CSV UTF-8 (délimité par des virgules) »."
        ) from exc


def _separator(first_line: str) -> str:
    counts = {sep: first_line.count(sep) for sep in (";", ",", "\t")}
    return max(counts, key=counts.get) if any(counts.values()) else ","


def _check_header(columns: list[str]) -> tuple[list[str], list[str]]:
    normalised = [c.strip().strip('"').strip().lower() for c in columns]
    # A trailing separator on the header line gives an empty last column: harmless.
    while normalised and normalised[-1] == "":
        normalised.pop()
    unknown = [c or "(vide)" for c in normalised if c not in REQUIRED and not COHORT_RE.match(c)]
    missing = [c for c in REQUIRED if c not in normalised]
    duplicated = sorted({c for c in normalised if normalised.count(c) > 1})
    problems = []
    if missing:
        problems.append("colonne(s) manquante(s) : " + ", ".join(missing))
    if unknown:
        problems.append("colonne(s) inconnue(s) : " + ", ".join(unknown))
    if duplicated:
        problems.append("colonne(s) en double : " + ", ".join(duplicated))
    if problems:
        raise ImportRejected(
            "L'en-tête du fichier est incorrect : " + " ; ".join(problems) + f". L'en-tête attendu est : {EXPECTED_TEXT}. "
            "Ne modifiez jamais le nom ni le nombre des colonnes du modèle."
        )
    cohorts = sorted((c for c in normalised if COHORT_RE.match(c)), key=lambda c: int(c[6:]))
    return normalised, cohorts


def _frame_from_csv(text: str) -> tuple[pl.DataFrame, list[str]]:
    lines = text.splitlines()
    first_line = next((line for line in lines if line.strip()), "")
    separator = _separator(first_line)
    # polars drops blank lines; keep them as empty rows so line numbers match what Excel shows.
    filler = separator * first_line.count(separator)
    text = "\n".join(line if line.strip() else filler for line in lines)
    # The header as typed (polars would rename a duplicated column before we could report it).
    header = next(csv.reader([first_line], delimiter=separator))
    try:
        frame = pl.read_csv(
            io.BytesIO(text.encode("utf-8")),
            separator=separator,
            infer_schema=False,
            has_header=True,
            truncate_ragged_lines=True,
            empty_string_is_null=False,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError as exc:
        raise ImportRejected(
            "Le fichier CSV est mal formé (guillemets ou séparateurs incohérents) : "
            "ouvrez-le dans Excel et enregistrez-le de nouveau au format CSV."
        ) from exc
    return frame, header


def _frame_from_xlsx(content: bytes) -> pl.DataFrame:
    try:
        return pl.read_excel(io.BytesIO(content), engine="calamine", infer_schema_length=0)
    except Exception as exc:  # noqa: BLE001 - any reader failure means "not a usable workbook"
        raise ImportRejected("Le classeur Excel n'a pas pu être lu : enregistrez-le de nouveau au format .xlsx ou CSV.") from exc


def read_file(content: bytes, filename: str) -> ParsedFile:
    """The rows of an uploaded CSV or .xlsx file, or ImportRejected with a French message."""
    settings = get_settings()
    if len(content) > settings.import_max_bytes:
        raise ImportRejected(
            f"Le fichier fait {len(content) / 1_048_576:.1f} Mo : la taille maximale est de "
            f"{settings.import_max_bytes / 1_048_576:.0f} Mo. Découpez-le en plusieurs fichiers."
        )
    if not content.strip(b"\xef\xbb\xbf \r\n\t;,"):
        raise ImportRejected("Le fichier est vide.")
    if content[:4] == b"PK\x03\x04":
        frame = _frame_from_xlsx(content)
        header = list(frame.columns)
    else:
        if b"\x00" in content[:8192]:
            raise ImportRejected(
                "Ce fichier n'est pas un fichier CSV (contenu binaire). Utilisez le modèle CSV fourni, "
                "ou un classeur Excel .xlsx."
            )
        frame, header = _frame_from_csv(_decode(content))
    columns, cohorts = _check_header(header)
    frame = frame.select(frame.columns[: len(columns)])
    frame.columns = columns
    frame = frame.with_columns(pl.all().cast(pl.String).fill_null("").str.strip_chars()).with_row_index("_index")
    # Trailing (and stray) empty rows, as French Excel leaves them; the index keeps line numbers.
    if frame.height:
        frame = frame.filter(pl.any_horizontal(pl.exclude("_index").str.len_chars() > 0))
    rows = frame.to_dicts()
    if not rows:
        raise ImportRejected("Le fichier ne contient aucune ligne de compte sous l'en-tête.")
    if len(rows) > settings.import_max_rows:
        raise ImportRejected(
            f"Le fichier contient {len(rows)} lignes : un import est limité à {settings.import_max_rows} comptes. "
            "Découpez-le en plusieurs fichiers."
        )
    # Line numbers as the GET sees them in Excel (the header is line 1). Empty lines were dropped,
    # so the index of the original row is kept through polars' row index.
    for row in rows:
        row["_line"] = row.pop("_index") + 2
    return ParsedFile(columns=columns, rows=rows, cohort_columns=cohorts)


# -- analysing the rows -------------------------------------------------------------------------
def _allowed(problem_kinds: set[str], existing_in_scope: bool) -> list[str]:
    if "error" in problem_kinds:
        return ["skip"]
    allowed = ["create", "skip", "suffix", "update"]
    if "duplicate" in problem_kinds or "existing" in problem_kinds:
        allowed.remove("create")
    if "duplicate" in problem_kinds or not ("existing" in problem_kinds and existing_in_scope):
        allowed.remove("update")
    if not ({"duplicate", "existing"} & problem_kinds):
        allowed.remove("suffix")
    return allowed


async def analyse(user: CurrentUser, establishment: dict, parsed: ParsedFile) -> list[dict]:
    """Every row with its proposed username, its problems and the decisions it offers."""
    code = establishment["code"]
    analysed = []
    for raw in parsed.rows:
        first, last = raw["firstname"], raw["lastname"]
        email = normalise_email(raw["email"])
        analysed.append(
            {
                "line": raw["_line"],
                "first_name": first[:100],
                "last_name": last[:100],
                "password": raw["password"][:255],
                "email": email[:254],
                "matricule": normalise_matricule(raw["profile_field_matricule"])[:50],
                "cohorts": "\n".join(dict.fromkeys(raw[c] for c in parsed.cohort_columns if raw[c])),
                "username": suggest_username(code, first, last) if last else "",
                "problems": [],
                "kinds": set(),
            }
        )

    # Existing accounts with the same e-mail, matricule or username: three set-based queries.
    def _values(key):
        return sorted({r[key] for r in analysed if r[key]})

    existing: dict[tuple[str, str], dict] = {}
    for key, column in (("email", User.email), ("matricule", User.matricule), ("username", User.username)):
        values = _values(key)
        for start in range(0, len(values), 5000):
            rows = await User.select(
                User.id, User.username, User.email, User.matricule, User.establishment,
                User.establishment.code.as_alias("establishment_code"),
            ).where(column.is_in(values[start:start + 5000]))
            for row in rows:
                existing[(key, row[key])] = row
    scope = await establishment_scope(user)
    labels = {"email": "la même adresse de courriel", "matricule": "le même matricule", "username": "le même nom d'utilisateur"}
    first_seen: dict[tuple[str, str], int] = {}
    for r in analysed:
        if not r["first_name"]:
            r["problems"].append("Prénom manquant.")
            r["kinds"].add("error")
        if not r["last_name"]:
            r["problems"].append("Nom de famille manquant.")
            r["kinds"].add("error")
        if r["email"] and not EMAIL_RE.match(r["email"]):
            r["problems"].append(f"Adresse de courriel invalide : {r['email']}.")
            r["kinds"].add("error")
        if not r["email"] and not r["password"]:
            r["problems"].append(
                "Ni adresse de courriel ni mot de passe : le mot de passe généré ne pourrait pas lui être envoyé. "
                "Saisissez un mot de passe dans le fichier et communiquez-le vous-même."
            )
            r["kinds"].add("error")
        if r["password"] and policy_error(r["password"]):
            if r["email"]:
                r["problems"].append(
                    "Mot de passe trop faible : s'il est importé, un mot de passe sera généré et envoyé par courriel."
                )
                r["kinds"].add("weak")
            else:
                r["problems"].append(f"Mot de passe trop faible ({policy_error(r['password'])}) et pas d'adresse de courriel.")
                r["kinds"].add("error")
        for key in ("email", "matricule", "username"):
            value = r[key]
            if not value:
                continue
            if (key, value) in first_seen:
                r["problems"].append(f"Doublon de la ligne {first_seen[(key, value)]} ({labels[key]}).")
                r["kinds"].add("duplicate")
            else:
                first_seen[(key, value)] = r["line"]
            match = existing.get((key, value))
            if match and "existing" not in r["kinds"]:
                r["existing_user"] = match["id"]
                r["existing_in_scope"] = scope.allows(match["establishment"])
                where = match["establishment_code"] or "sans établissement"
                note = "" if r["existing_in_scope"] else " (hors de votre périmètre : il ne peut pas être mis à jour)"
                r["problems"].append(f"Un compte existe déjà avec {labels[key]} : {match['username']} ({where}){note}.")
                r["kinds"].add("existing")
        allowed = _allowed(r["kinds"], r.get("existing_in_scope", False))
        r["allowed"] = allowed
        r["status"] = "error" if "error" in r["kinds"] else ("problem" if r["kinds"] else "ok")
        # Problem rows start as "skip": nothing happens to them unless the GET decides otherwise.
        r["decision"] = "create" if r["status"] == "ok" else "skip"
    return analysed


async def create_batch(user: CurrentUser, establishment_id: int, filename: str, content: bytes) -> int:
    """Read, analyse and store a file for preview; returns the batch id. Nothing is stored if refused."""
    establishment = await require_establishment(user, establishment_id)
    parsed = await asyncio.to_thread(read_file, content, filename)
    analysed = await analyse(user, establishment, parsed)
    async with db.transaction():
        batch = await ImportBatch.insert(
            ImportBatch(establishment=establishment_id, created_by=user.id, filename=filename[:255],
                        total_rows=len(analysed))
        ).returning(ImportBatch.id)
        batch_id = batch[0]["id"]
        await bulk_insert(ImportRow, ROW_COLUMNS, [
            (batch_id, r["line"], r["first_name"], r["last_name"], r["password"], r["email"], r["matricule"],
             r["cohorts"], r["username"], r["status"], "\n".join(r["problems"]), r.get("existing_user"),
             r.get("existing_in_scope", False), r["decision"], ",".join(r["allowed"]), "", "")
            for r in analysed
        ])
    return batch_id


# -- the batch as the GET sees it ----------------------------------------------------------------
async def batch_in_scope(user: CurrentUser, batch_id: int) -> dict:
    batch = (
        await ImportBatch.select(
            ImportBatch.all_columns(),
            ImportBatch.establishment.code.as_alias("establishment_code"),
            ImportBatch.establishment.name.as_alias("establishment_name"),
        )
        .where(ImportBatch.id == batch_id)
        .first()
    )
    if batch is None:
        raise NotFound("Import introuvable.")
    if not (await establishment_scope(user)).allows(batch["establishment"]):
        raise ScopeError("Import introuvable.")
    return batch


async def batch_summary(batch_id: int) -> dict:
    rows = await ImportRow.select(ImportRow.status, ImportRow.decision).where(ImportRow.batch == batch_id)
    summary = defaultdict(int)
    for r in rows:
        summary[r["status"]] += 1
        summary[f"decision_{r['decision']}"] += 1
    return dict(summary)


async def set_decision(user: CurrentUser, batch_id: int, row_id: int, decision: str) -> dict:
    batch = await batch_in_scope(user, batch_id)
    if batch["status"] != "preview":
        raise DomainError("Cet import est déjà lancé : les décisions ne peuvent plus changer.")
    row = await ImportRow.select().where((ImportRow.id == row_id) & (ImportRow.batch == batch_id)).first()
    if row is None:
        raise NotFound("Ligne introuvable.")
    if decision not in row["allowed"].split(","):
        raise DomainError("Cette décision n'est pas possible pour cette ligne.")
    await ImportRow.update({ImportRow.decision: decision}).where(ImportRow.id == row_id)
    row["decision"] = decision
    return row


async def set_decision_for_all(user: CurrentUser, batch_id: int, decision: str) -> int:
    """The same decision for every flagged row that offers it (set-based)."""
    batch = await batch_in_scope(user, batch_id)
    if batch["status"] != "preview" or decision not in DECISION_LABELS:
        raise DomainError("Cet import est déjà lancé : les décisions ne peuvent plus changer.")
    rows = await ImportRow.update({ImportRow.decision: decision}).where(
        (ImportRow.batch == batch_id)
        & (ImportRow.status != "ok")
        & ((ImportRow.allowed == decision) | ImportRow.allowed.like(f"{decision},%")
           | ImportRow.allowed.like(f"%,{decision}") | ImportRow.allowed.like(f"%,{decision},%"))
    ).returning(ImportRow.id)
    return len(rows)


async def confirm(user: CurrentUser, batch_id: int, redis) -> str:
    """Lock the decisions and enqueue the job; a second click (double submit) changes nothing."""
    import secrets

    await batch_in_scope(user, batch_id)
    token = secrets.token_urlsafe(16)
    claimed = await ImportBatch.update({ImportBatch.status: "queued", ImportBatch.token: token}).where(
        (ImportBatch.id == batch_id) & (ImportBatch.status == "preview")
    ).returning(ImportBatch.id, ImportBatch.total_rows)
    if not claimed:
        return ""
    await progress.start(redis, token, user.id, "Import des comptes", claimed[0]["total_rows"])
    await progress.update(redis, token, result_url=f"/imports/{batch_id}", result_label="Voir le rapport d'import")
    from app.queue import enqueue

    await enqueue(redis, JOB, batch_id, _job_id=f"import:{batch_id}")
    return token


# -- the job ------------------------------------------------------------------------------------
async def _usernames_with_prefix(prefix: str) -> set[str]:
    rows = await User.select(User.username).where(User.username.like(f"{prefix}%"))
    return {r["username"] for r in rows}


async def run_import(redis, batch_id: int) -> dict:
    claimed = await ImportBatch.update({ImportBatch.status: "running"}).where(
        (ImportBatch.id == batch_id) & ImportBatch.status.is_in(["queued", "running"])
    ).returning(ImportBatch.token, ImportBatch.establishment, ImportBatch.created_by)
    if not claimed:
        return {"skipped": "not queued"}
    token, establishment_id, created_by = claimed[0]["token"], claimed[0]["establishment"], claimed[0]["created_by"]
    await progress.update(redis, token, state="running")
    try:
        counts, queued_mails = await _apply(redis, batch_id, token, establishment_id, created_by)
    except Exception as exc:
        await ImportBatch.update({ImportBatch.status: "failed", ImportBatch.error: f"{type(exc).__name__}: {exc}"[:2000]}).where(
            ImportBatch.id == batch_id
        )
        await progress.update(redis, token, state="failed", message="L'import a échoué ; aucun compte n'a été créé.")
        raise
    if queued_mails:
        from app.queue import enqueue

        await enqueue(redis, "send_mail_group", f"import:{batch_id}", _job_id=f"import-mails:{batch_id}")
    await progress.update(redis, token, state="done", done=sum(counts.values()))
    return counts


async def _apply(redis, batch_id: int, token: str, establishment_id: int, created_by: int | None):
    establishment = await Establishment.select(Establishment.code).where(Establishment.id == establishment_id).first()
    code = establishment["code"].lower()
    rows = await ImportRow.select().where(ImportRow.batch == batch_id).order_by(ImportRow.line)
    to_create = [r for r in rows if r["decision"] in ("create", "suffix")]
    to_update = [r for r in rows if r["decision"] == "update" and r["existing_in_scope"] and r["existing_user"]]
    skipped = [r for r in rows if r["decision"] == "skip" or (r["decision"] == "update" and r not in to_update)]
    outcomes: dict[str, list[int]] = defaultdict(list)
    messages: dict[int, str] = {}
    mails: list[tuple[str, str, str]] = []  # (email, subject, body)
    done = 0

    from app.services.auth import load_current_user

    # Updates stay within what the GET who confirmed may touch, as of now.
    scope = await establishment_scope(await load_current_user(created_by) if created_by else None)
    used = await _usernames_with_prefix(f"{code}.")
    # Passwords: the file's (when it follows the policy) or a generated one, hashed cheaply
    # (temporary, the change is forced) off the event loop.
    plans = []
    for r in to_create:
        if r["decision"] == "create" and r["username"] in used:
            outcomes["failed"].append(r["id"])
            messages[r["id"]] = f"Le nom d'utilisateur {r['username']} a été pris entre-temps : relancez un import pour cette ligne."
            continue
        username = next_free(r["username"], used) if r["decision"] == "suffix" else r["username"]
        used.add(username)
        generated = not r["password"] or bool(policy_error(r["password"]))
        password = generate_password() if generated else r["password"]
        plans.append((r, username, password, generated))
    hashes = await asyncio.to_thread(lambda: [hash_temporary_password(p[2]) for p in plans])

    async with db.transaction():
        created_ids: list[tuple[int, int]] = []  # (row id, user id)
        t = now()
        for start in range(0, len(plans), INSERT_CHUNK * 4):
            chunk = plans[start:start + INSERT_CHUNK * 4]
            records = []
            for (r, username, password, generated), password_hash in zip(chunk, hashes[start:start + len(chunk)]):
                email = r["email"] or fictitious_email(username)
                keys = user_text_fields(r["first_name"], r["last_name"], username, email)
                records.append((username, password_hash, r["first_name"], r["last_name"], email, establishment_id,
                                "fph_agent", r["matricule"], False, True, keys["search_text"], keys["last_name_key"],
                                keys["first_name_key"], t))
                if generated and not is_fictitious(email):
                    mails.append((email, *credentials_mail(r["first_name"], username), "", password))
            await bulk_insert(User, USER_COLUMNS, records)
            inserted = await User.select(User.id, User.username).where(User.username.is_in([p[1] for p in chunk]))
            by_username = {u["username"]: u["id"] for u in inserted}
            await bulk_insert(
                RoleAssignment,
                [RoleAssignment.user, RoleAssignment.role, RoleAssignment.establishment, RoleAssignment.granted_by,
                 RoleAssignment.created_at],
                [(by_username[p[1]], LEARNER, establishment_id, created_by, t) for p in chunk],
            )
            created_ids += [(p[0]["id"], by_username[p[1]]) for p in chunk]
            outcomes["created"] += [p[0]["id"] for p in chunk]
            done += len(chunk)
            await progress.update(redis, token, done=done)

        for r in to_update:
            email = r["email"] or None
            values = {User.first_name: r["first_name"], User.last_name: r["last_name"]}
            if email:
                values[User.email] = email
            if r["matricule"]:
                values[User.matricule] = r["matricule"]
            if r["password"] and not policy_error(r["password"]):
                values.update(new_password_values(hash_temporary_password(r["password"]), force_change=True))
            clause = (User.id == r["existing_user"])
            in_scope = scope.where(User.establishment)
            updated = await User.update(values).where(clause if in_scope is None else clause & in_scope).returning(
                User.id, User.username, User.email
            )
            if updated:
                u = updated[0]
                await User.update({getattr(User, k): v for k, v in user_text_fields(
                    r["first_name"], r["last_name"], u["username"], u["email"]).items()}).where(User.id == u["id"])
                outcomes["updated"].append(r["id"])
                created_ids.append((r["id"], u["id"]))
            else:
                outcomes["failed"].append(r["id"])
                messages[r["id"]] = "Le compte existant n'est plus dans votre périmètre : il n'a pas été modifié."
            done += 1
        outcomes["skipped"] += [r["id"] for r in skipped]

        # cohortN: membership of the establishment's cohorts, created when missing.
        row_cohorts = {r["id"]: [c for c in r["cohorts"].split("\n") if c] for r in rows}
        wanted = sorted({c for rid, _ in created_ids for c in row_cohorts.get(rid, [])})
        if wanted:
            known = {c["name"]: c["id"] for c in await Cohort.select(Cohort.id, Cohort.name).where(
                (Cohort.establishment == establishment_id) & Cohort.name.is_in(wanted))}
            missing = [name for name in wanted if name not in known]
            if missing:
                new = await Cohort.insert(*[Cohort(establishment=establishment_id, name=n[:100]) for n in missing]).returning(
                    Cohort.id, Cohort.name)
                known.update({c["name"]: c["id"] for c in new})
            pairs = {(known[c], uid) for rid, uid in created_ids for c in row_cohorts.get(rid, [])}
            already = await CohortMember.select(CohortMember.cohort, CohortMember.user).where(
                CohortMember.cohort.is_in(sorted(set(known.values()))) & CohortMember.user.is_in(sorted({u for _, u in pairs}))
            ) if pairs else []
            pairs -= {(a["cohort"], a["user"]) for a in already}
            await bulk_insert(CohortMember, [CohortMember.cohort, CohortMember.user, CohortMember.added_at],
                              [(c, u, t) for c, u in sorted(pairs)])

        queued = await outbox.queue_mails(mails, category="credentials", group_key=f"import:{batch_id}")

        for outcome, ids in outcomes.items():
            for start in range(0, len(ids), 5000):
                await ImportRow.update({ImportRow.outcome: outcome}).where(ImportRow.id.is_in(ids[start:start + 5000]))
        for row_id, message in messages.items():
            await ImportRow.update({ImportRow.outcome_message: message}).where(ImportRow.id == row_id)
        # The file's passwords are not kept once the import has used them.
        await ImportRow.update({ImportRow.password: ""}).where(ImportRow.batch == batch_id)
        counts = {k: len(outcomes.get(k, [])) for k in ("created", "updated", "skipped", "failed")}
        await ImportBatch.update({
            ImportBatch.status: "done", ImportBatch.created_count: counts["created"],
            ImportBatch.updated_count: counts["updated"], ImportBatch.skipped_count: counts["skipped"],
            ImportBatch.failed_count: counts["failed"], ImportBatch.finished_at: now(),
            ImportBatch.error: "",
        }).where(ImportBatch.id == batch_id)
    return counts, queued
