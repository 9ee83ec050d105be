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
import zipfile
import zlib
from collections import defaultdict
from dataclasses import dataclass, field

import polars as pl
from piccolo.query.functions.aggregate import Count

from app import db
from app.bulk import bulk_insert, bulk_update
from app.dates import now
from app.numbers import to_int
from app.services import outbox, progress
from app.services.accounts import (
    EMAIL_RE,
    NewAccount,
    credentials_mail,
    fictitious_email,
    hash_temporary_password,
    insert_accounts,
    is_fictitious,
    name_slug,
    next_free,
    normalise_email,
    normalise_matricule,
    suggest_username,
    too_long,
)
from app.services.errors import DomainError, NotFound, ScopeError
from app.services.passwords import generate_password, policy_error
from app.services.roles import CurrentUser
from app.services.scope import establishment_scope, manageable_user_ids, require_establishment
from app.services.text import fold, number_fr, user_text_fields
from app.services.uniqueness import EMAIL_TAKEN, violated_index
from app.settings import get_settings
from app.tables.accounts import User
from app.tables.cohorts import Cohort, CohortMember
from app.tables.constraints import EMAIL_UNIQUE_INDEX_NAME
from app.tables.imports import ImportBatch, ImportRow
from app.tables.org import Establishment

REQUIRED = ["firstname", "lastname", "password", "email", "profile_field_matricule"]
COHORT_RE = re.compile(r"^cohort[1-9][0-9]*$")
EXPECTED_TEXT = "firstname, lastname, password, email, profile_field_matricule (puis cohort1, cohort2… facultatives)"
INSERT_CHUNK = 500
# Every creation takes the next free suffix (a homonym's alp001.l.morel2), so there is no
# separate "create with a suffix": a row that is the same person as another row or as an existing
# account can only be skipped, or update that account. An update changes the first and last
# names, and the e-mail and matricule the file gives; it keeps the password unless the GET chooses
# "update_password" (the file's password, when it follows the policy; change forced).
DECISION_LABELS = {
    "create": "Créer le compte",
    "skip": "Ignorer la ligne",
    "update": "Mettre à jour (mot de passe conservé)",
    "update_password": "Mettre à jour + mot de passe du fichier",
}
CREATE_DECISIONS = ("create", "suffix")  # "suffix": batches previewed before suffixes were automatic
UPDATE_DECISIONS = ("update", "update_password")
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
# Valid UTF-8 sequences of the characters a French file holds (é, à, ç, œ, ’, «, €…): found in a
# file that is not valid UTF-8 as a whole, they mean two encodings were mixed.
_FRENCH_UTF8 = re.compile(rb"\xc2[\xa0-\xbf]|[\xc3-\xc5][\x80-\xbf]|\xe2\x80[\x80-\xbf]|\xe2\x82\xac")
SAVE_AS_UTF8 = "ouvrez-le dans Excel et enregistrez-le au format « CSV UTF-8 (délimité par des virgules) »."


def _line_of(content: bytes, position: int) -> int:
    return content.count(b"\n", 0, position) + 1


def _decode(content: bytes) -> str:
    """UTF-8 (with or without BOM) or Windows-1252 — one of them for the whole file."""
    if content[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ImportRejected(f"Le fichier est enregistré en UTF-16 (« Texte Unicode ») : {SAVE_AS_UTF8}")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        bad = error.start
    utf8 = _FRENCH_UTF8.search(content)
    if utf8:
        raise ImportRejected(
            f"Le fichier mélange deux encodages : la ligne {_line_of(content, utf8.start())} est en UTF-8, la ligne "
            f"{_line_of(content, bad)} en Windows-1252 (les accents de l'une seraient mal lus). Rien n'a été importé : "
            + SAVE_AS_UTF8
        )
    try:
        # French Excel saves "CSV (séparateur: point-virgule)" in Windows-1252.
        return content.decode("windows-1252")
    except UnicodeDecodeError as exc:
        raise ImportRejected(f"Le fichier n'est ni en UTF-8 ni en Windows-1252 : {SAVE_AS_UTF8}") from exc


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


# -- .xlsx: what the workbook holds, checked before any parsing (zip bombs) -----------------------
# A .xlsx is a zip: 1 MB uploaded can hold gigabytes of XML, or one cell at XFD1048576 that makes
# the reader allocate the whole grid. A genuine workbook at the row limit (20,000 agents, 6
# columns) unpacks to about 8 MB: 50 MB unpacked is refused, whatever the upload limit.
XLSX_MAX_UNPACKED = 50 * 1024 * 1024
XLSX_MAX_ENTRIES = 1000
XLSX_MAX_COLUMNS = 50
_CHUNK = 1 << 20
_CELL_REF = re.compile(rb'\sr="([A-Z]{0,3})([0-9]{1,9})"')
_ROW_OR_CELL = re.compile(rb"<(?:\w+:)?(row|c)[\s/>]")
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="[A-Z]{1,3}[0-9]+:([A-Z]{1,3})([0-9]+)"')
NOT_A_WORKBOOK = "Le classeur Excel n'a pas pu être lu : enregistrez-le de nouveau au format .xlsx ou CSV."


def _column_number(letters: bytes) -> int:
    n = 0
    for letter in letters:
        n = n * 26 + letter - 64
    return n


def _first_sheet(archive: zipfile.ZipFile) -> str | None:
    """The path of the sheet a reader loads (the workbook's first), or None if it cannot be told."""
    try:
        workbook = archive.read("xl/workbook.xml") if archive.getinfo("xl/workbook.xml").file_size < _CHUNK else b""
        rels = archive.read("xl/_rels/workbook.xml.rels") if archive.getinfo(
            "xl/_rels/workbook.xml.rels").file_size < _CHUNK else b""
    except (KeyError, zipfile.BadZipFile, ValueError, OSError):
        return None
    sheet = re.search(rb'<(?:\w+:)?sheet\s[^>]*?\b(?:\w+:)?id="([^"]+)"', workbook)
    if not sheet:
        return None
    for relation in re.findall(rb"<(?:\w+:)?Relationship\s[^>]*>", rels):
        rel_id, target = re.search(rb'\bId="([^"]+)"', relation), re.search(rb'\bTarget="([^"]+)"', relation)
        if rel_id and target and rel_id.group(1) == sheet.group(1):
            path = target.group(1).decode("utf-8", "replace")
            return path.lstrip("/") if path.startswith("/") else "xl/" + path
    return None


def _scan_sheet(chunks, max_rows: int):
    """Yield ``chunks`` on, refusing a sheet whose cells reach beyond ``max_rows`` rows or
    XLSX_MAX_COLUMNS columns (the reader allocates the whole rectangle), as the XML streams by."""
    def too_big(what: str) -> ImportRejected:
        return ImportRejected(
            f"La feuille du classeur est trop grande : {what}. Un import est limité à "
            f"{number_fr(get_settings().import_max_rows)} lignes et {XLSX_MAX_COLUMNS} colonnes ; supprimez les "
            "lignes et colonnes vides sous le tableau et à sa droite, ou enregistrez-le au format CSV.")

    tail = b""
    rows = cells = 0
    for chunk in chunks:
        buffer = tail + chunk
        for match in _DIMENSION.finditer(buffer):
            last_row, letters = to_int(match.group(2), low=0), match.group(1)
            if last_row is None:  # past any int (5,000 digits): the text, cut
                raise too_big(f"elle s'étend jusqu'à la ligne {match.group(2)[:12].decode()}…")
            if last_row > max_rows or _column_number(letters) > XLSX_MAX_COLUMNS:
                raise too_big(f"elle s'étend jusqu'à la cellule {letters.decode()}{last_row}")
        for match in _CELL_REF.finditer(buffer):
            row, letters = to_int(match.group(2), max_rows + 1, low=0), match.group(1)  # {1,9} digits
            if row > max_rows or (letters and _column_number(letters) > XLSX_MAX_COLUMNS):
                raise too_big(f"une cellule est en {letters.decode()}{row}" if letters else f"elle va jusqu'à la ligne {number_fr(row)}")
        for match in _ROW_OR_CELL.finditer(buffer):
            if match.end() > len(tail):  # not counted with the previous chunk
                if match.group(1) == b"row":
                    rows += 1
                else:
                    cells += 1
        if rows > max_rows or cells > max_rows * XLSX_MAX_COLUMNS:
            raise too_big(f"elle compte plus de {number_fr(max_rows)} lignes")
        tail = buffer[-64:]
        yield chunk


def _checked_xlsx(content: bytes) -> bytes:
    """The workbook re-packed from exactly what was checked, or ImportRejected. The sizes a zip
    declares are not trusted: each entry is inflated here (never beyond XLSX_MAX_UNPACKED in all),
    its first sheet scanned, and the reader is given these bytes, stored uncompressed."""
    refused = ImportRejected(
        f"Le classeur Excel est anormalement volumineux une fois décompressé (plus de "
        f"{XLSX_MAX_UNPACKED // 1_048_576} Mo) : il n'a pas été lu. Copiez le tableau dans un classeur vierge, "
        "ou enregistrez-le au format CSV."
    )
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        entries = [e for e in archive.infolist() if not e.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise ImportRejected(NOT_A_WORKBOOK) from exc
    if len(entries) > XLSX_MAX_ENTRIES:
        raise ImportRejected(NOT_A_WORKBOOK)
    if sum(e.file_size for e in entries) > XLSX_MAX_UNPACKED:
        raise refused
    sheet = _first_sheet(archive)
    max_rows = 2 * get_settings().import_max_rows + 1
    total = 0

    def inflate(entry):
        nonlocal total
        with archive.open(entry) as member:
            while chunk := member.read(_CHUNK):
                total += len(chunk)
                if total > XLSX_MAX_UNPACKED:
                    raise refused
                yield chunk

    packed = io.BytesIO()
    try:
        with zipfile.ZipFile(packed, "w", zipfile.ZIP_STORED) as out:
            for entry in entries:
                chunks = inflate(entry)
                if entry.filename == sheet or (sheet is None and entry.filename.startswith("xl/worksheets/")):
                    chunks = _scan_sheet(chunks, max_rows)
                with out.open(entry.filename, "w") as target:
                    for chunk in chunks:
                        target.write(chunk)
    except (zipfile.BadZipFile, NotImplementedError, EOFError, OSError, RuntimeError, zlib.error) as exc:
        raise ImportRejected(NOT_A_WORKBOOK) from exc
    return packed.getvalue()


def _frame_from_xlsx(content: bytes) -> pl.DataFrame:
    checked = _checked_xlsx(content)
    try:
        return pl.read_excel(io.BytesIO(checked), engine="calamine", infer_schema_length=0)
    except Exception as exc:  # noqa: BLE001 - any reader failure means "not a usable workbook"
        raise ImportRejected(NOT_A_WORKBOOK) from exc


def read_file(content: bytes, filename: str) -> ParsedFile:
    """The rows of an uploaded CSV or .xlsx file, or ImportRejected with a French message."""
    settings = get_settings()
    if len(content) > settings.import_max_bytes:
        raise ImportRejected(
            f"Le fichier fait {number_fr(len(content) / 1_048_576, 1)} Mo : la taille maximale est de "
            f"{number_fr(settings.import_max_bytes / 1_048_576, 0)} Mo. Découpez-le en plusieurs fichiers."
        )
    if not content.strip(b"\xef\xbb\xbf \r\n\t;,"):
        raise ImportRejected("Le fichier est vide.")
    if content[:4] == b"PK\x03\x04":
        frame = _frame_from_xlsx(content)
        header = list(frame.columns)
    else:
        nul = content.find(b"\x00")
        if nul >= 0 and content[:2] not in (b"\xff\xfe", b"\xfe\xff"):
            raise ImportRejected(
                f"Ce fichier n'est pas un fichier CSV lisible (contenu binaire : caractère nul à la ligne "
                f"{_line_of(content, nul)}). Rien n'a été importé : utilisez le modèle CSV fourni, ou un classeur "
                "Excel .xlsx."
            )
        frame, header = _frame_from_csv(_decode(content))
    columns, cohorts = _check_header(header)
    frame = frame.select(frame.columns[: len(columns)])
    frame.columns = columns
    frame = frame.with_columns(pl.all().cast(pl.String).fill_null("").str.strip_chars()).with_row_index("_index")
    # Trailing (and stray) empty rows, as French Excel leaves them; the index keeps line numbers.
    if frame.height:
        frame = frame.filter(pl.any_horizontal(pl.exclude("_index").str.len_chars() > 0))
    if frame.height:
        nul = frame.filter(pl.any_horizontal(pl.exclude("_index").str.contains("\x00", literal=True)))
        if nul.height:
            raise ImportRejected(
                f"La ligne {nul['_index'][0] + 2} contient un caractère nul (octet 0) : le fichier est endommagé. "
                "Rien n'a été importé : corrigez-le ou enregistrez-le de nouveau depuis Excel."
            )
    rows = frame.to_dicts()
    if not rows:
        raise ImportRejected("Le fichier ne contient aucune ligne de compte sous l'en-tête.")
    if len(rows) > settings.import_max_rows:
        raise ImportRejected(
            f"Le fichier contient {number_fr(len(rows))} lignes : un import est limité à "
            f"{number_fr(settings.import_max_rows)} comptes. "
            "Découpez-le en plusieurs fichiers."
        )
    # Line numbers as the GET sees them in Excel (the header is line 1). Empty lines were dropped,
    # so the index of the original row is kept through polars' row index.
    for row in rows:
        row["_line"] = row.pop("_index") + 2
    return ParsedFile(columns=columns, rows=rows, cohort_columns=cohorts)


# -- analysing the rows -------------------------------------------------------------------------
# The kinds of problem a row can have. Any of BLOCKING makes the row an error: it is never imported.
BLOCKING = {"error", "same_person", "foreign", "two_accounts"}
FOREIGN_MESSAGE = ("Cette adresse ou ce matricule est déjà utilisé par un compte hors de votre périmètre : "
                   "ligne non importable.")
LABELS = {"email": "la même adresse de courriel", "matricule": "le même matricule"}
COHORT_NAME_MAX = 100


def _fit(value: str, limit: int) -> str:
    """A value cut to its ImportRow column, for display only: a row with an over-long value is an
    error (never imported), so nothing cut ever reaches an account."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _allowed(kinds: set[str], password_usable: bool) -> list[str]:
    if kinds & BLOCKING:
        return ["skip"]
    if "existing" in kinds:
        # The same person as an account we manage: update it or leave it, never a second account.
        return ["skip", "update", "update_password"] if password_usable else ["skip", "update"]
    return ["create", "skip"]


def _update_summary(row: dict, account: dict, cohorts_added: list[str], establishment: dict, password_usable: bool,
                    weak_password: bool) -> str:
    """Exactly what « Mettre à jour » would change on ``account`` (one of the caller's)."""
    changes = []
    for key, label in (("first_name", "prénom"), ("last_name", "nom"), ("email", "adresse de courriel"),
                       ("matricule", "matricule")):
        new, old = row[key], account[key] or ""
        if new and new != (old.lower() if key == "email" else old):
            changes.append(f"{label} « {old} » → « {new} »")
    if cohorts_added:
        changes.append("ajout " + ("à la cohorte " if len(cohorts_added) == 1 else "aux cohortes ")
                       + ", ".join(f"« {c} »" for c in cohorts_added))
    text = ("« Mettre à jour » : " + " ; ".join(changes) + "." if changes else
            "« Mettre à jour » ne changerait rien : prénom, nom, adresse, matricule et cohortes sont déjà ceux-là.")
    if account["establishment"] != establishment["id"]:
        text += f" Le compte reste rattaché à {account['establishment_code']}."
    if password_usable:
        text += (" Le mot de passe actuel est conservé ; « Mettre à jour + mot de passe du fichier » le remplace "
                 "par celui du fichier (changement imposé à la prochaine connexion).")
    elif weak_password:
        text += " Le mot de passe actuel est conservé (celui du fichier est trop faible)."
    else:
        text += " Le mot de passe actuel est conservé."
    return text


async def _existing_accounts(rows: list[dict], establishment_id: int) -> dict[tuple[str, str], list[dict]]:
    """Accounts holding one of the rows' e-mails (any account; e-mails are stored normalised, so
    this compares them case-insensitively) or matricules (an establishment's own numbering: its
    accounts only)."""
    found: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for key, where in (("email", User.email.is_in),
                       ("matricule", lambda v: User.matricule.is_in(v) & (User.establishment == establishment_id))):
        values = sorted({r[key] for r in rows if r[key]})
        for start in range(0, len(values), 5000):
            for account in await User.select(
                User.id, User.username, User.first_name, User.last_name, User.email, User.matricule,
                User.establishment, User.establishment.code.as_alias("establishment_code"),
            ).where(where(values[start:start + 5000])):
                value = account["email"].lower() if key == "email" else account["matricule"]
                found[(key, value)].append(account)
    return found


async def analyse(user: CurrentUser, establishment: dict, parsed: ParsedFile) -> list[dict]:
    """Every row with its username (the next free suffix for a homonym), its problems and notes,
    and the decisions it offers. Nothing of an account outside the caller's scope is ever shown."""
    code = establishment["code"]
    analysed = []
    for raw in parsed.rows:
        first, last, password = raw["firstname"], raw["lastname"], raw["password"]
        email, raw_matricule = normalise_email(raw["email"]), raw["profile_field_matricule"]
        r = {
            "line": raw["_line"], "first_name": first, "last_name": last, "password": password, "email": email,
            "matricule": normalise_matricule(raw_matricule),
            "cohorts": list(dict.fromkeys(raw[c] for c in parsed.cohort_columns if raw[c])),
            "base": "", "username": "", "problems": [], "kinds": set(), "existing_user": None,
        }
        values = {"first_name": first, "last_name": last, "email": email, "matricule": raw_matricule,
                  "password": password}
        for name, message in too_long(values).items():
            r["problems"].append(f"{message} Ici : {len(values[name])} caractères. Rien n'est tronqué : corrigez le fichier.")
            r["kinds"].add("error")
        for cohort in r["cohorts"]:
            if len(cohort) > COHORT_NAME_MAX:
                r["problems"].append(f"Le nom de cohorte « {_fit(cohort, 40)} » ne peut pas dépasser {COHORT_NAME_MAX} "
                                     f"caractères. Ici : {len(cohort)} caractères.")
                r["kinds"].add("error")
        if not first:
            r["problems"].append("Prénom manquant.")
            r["kinds"].add("error")
        if not last:
            r["problems"].append("Nom de famille manquant.")
            r["kinds"].add("error")
        if first and last:
            if name_slug(first) and name_slug(last):
                r["base"] = suggest_username(code, first, last)
            else:
                r["problems"].append("Le prénom ou le nom ne contient aucune lettre utilisable pour le nom "
                                     "d'utilisateur (code.initiale.nom) : créez ce compte à la main.")
                r["kinds"].add("error")
        if email and not EMAIL_RE.match(email):
            r["problems"].append(f"Adresse de courriel invalide : {email}.")
            r["kinds"].add("error")
        analysed.append(r)

    existing = await _existing_accounts(analysed, establishment["id"])
    manageable = await manageable_user_ids(user, [a["id"] for found in existing.values() for a in found])
    used = await _usernames_with_prefix(f"{code.lower()}.")
    # Accounts we manage that bear the same name as a row with neither e-mail nor matricule: the
    # only rows whose identity cannot be told from the file.
    unidentified = {(fold(r["first_name"]), fold(r["last_name"])) for r in analysed
                    if r["base"] and not r["email"] and not r["matricule"]}
    same_name: dict[tuple[str, str], str] = {}
    if unidentified:
        scope = await establishment_scope(user)
        where = scope.users_where()
        clause = User.last_name_key.is_in(sorted({k[1] for k in unidentified}))
        for account in await User.select(User.username, User.first_name_key, User.last_name_key).where(
                clause if where is None else clause & where):
            same_name.setdefault((account["first_name_key"], account["last_name_key"]), account["username"])
    memberships: dict[int, set[str]] = defaultdict(set)
    in_scope_ids = sorted(manageable)
    if in_scope_ids:
        for m in await CohortMember.select(CohortMember.user, CohortMember.cohort.name.as_alias("name")).where(
                CohortMember.user.is_in(in_scope_ids) & (CohortMember.cohort.establishment == establishment["id"])):
            memberships[m["user"]].add(m["name"])

    first_seen: dict[tuple[str, str], int] = {}
    claimed: dict[int, int] = {}  # existing account -> the line that matched it first
    named: dict[tuple[str, str], int] = {}
    for r in analysed:
        kinds, problems = r["kinds"], r["problems"]
        # The same person as an earlier row: same e-mail or matricule.
        for key in ("email", "matricule"):
            if r[key]:
                earlier = first_seen.setdefault((key, r[key]), r["line"])
                if earlier != r["line"] and "same_person" not in kinds:
                    problems.append(f"Même personne que la ligne {earlier} ({LABELS[key]}) : une personne n'a qu'un "
                                    "compte, cette ligne ne sera pas importée.")
                    kinds.add("same_person")
        # The same person as an existing account.
        matches = {key: existing.get((key, r[key]), []) for key in ("email", "matricule") if r[key]}
        accounts = {a["id"]: a for found in matches.values() for a in found}
        if accounts and not kinds & {"same_person"}:
            if any(account_id not in manageable for account_id in accounts):
                problems.append(FOREIGN_MESSAGE)
                kinds.add("foreign")
            elif len(accounts) > 1:
                problems.append("L'adresse de courriel et le matricule correspondent à des comptes différents ("
                                + ", ".join(sorted(a["username"] for a in accounts.values()))
                                + ") : ligne non importable telle quelle.")
                kinds.add("two_accounts")
            elif next(iter(accounts)) in claimed:
                problems.append(f"Même personne que la ligne {claimed[next(iter(accounts))]} (le même compte "
                                "existant) : cette ligne ne sera pas importée.")
                kinds.add("same_person")
            else:
                (account,) = accounts.values()
                claimed[account["id"]] = r["line"]
                key = "email" if matches.get("email") else "matricule"
                problems.append(f"Un compte existe déjà avec {LABELS[key]} : {account['username']} "
                                f"({account['establishment_code'] or 'sans établissement'}).")
                kinds.add("existing")
                r["existing_user"] = account["id"]
                r["username"] = account["username"]
                r["account"] = account
        password_usable = bool(r["password"]) and not policy_error(r["password"])
        if "existing" in kinds:
            if not kinds & BLOCKING:
                added = [c for c in r["cohorts"] if c not in memberships[r["existing_user"]]]
                problems.append(_update_summary(r, r["account"], added, establishment, password_usable,
                                                bool(r["password"]) and not password_usable))
        elif not kinds & BLOCKING:
            if not r["email"] and not r["password"]:
                problems.append(
                    "Ni adresse de courriel ni mot de passe : le mot de passe généré ne pourrait pas lui être envoyé. "
                    "Saisissez un mot de passe dans le fichier et communiquez-le vous-même.")
                kinds.add("error")
            elif r["password"] and not password_usable:
                if r["email"]:
                    problems.append("Mot de passe trop faible : s'il est importé, un mot de passe sera généré et "
                                    "envoyé par courriel.")
                    kinds.add("weak")
                else:
                    problems.append(f"Mot de passe trop faible ({policy_error(r['password'])}) et pas d'adresse de "
                                    "courriel.")
                    kinds.add("error")
        if r["base"] and not kinds & (BLOCKING | {"existing"}):
            name = (fold(r["first_name"]), fold(r["last_name"]))
            if not r["email"] and not r["matricule"] and (name in named or name in same_name):
                other = f"la ligne {named[name]}" if name in named else f"le compte {same_name[name]}"
                problems.append(f"Même prénom et même nom que {other}, sans adresse de courriel ni matricule pour les "
                                "distinguer : « Créer le compte » en fait une autre personne.")
                kinds.add("unsure")
            r["username"] = next_free(r["base"], used)
            used.add(r["username"])
            if r["username"] != r["base"]:
                problems.append(f"Homonyme : {r['base']} est déjà pris, le compte sera {r['username']}.")
            named.setdefault(name, r["line"])
        r["allowed"] = _allowed(kinds, password_usable)
        r["status"] = "error" if kinds & BLOCKING else ("problem" if kinds & {"existing", "weak", "unsure"} else "ok")
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
            (batch_id, r["line"], _fit(r["first_name"], 100), _fit(r["last_name"], 100), _fit(r["password"], 255),
             _fit(r["email"], 254), _fit(r["matricule"], 50), "\n".join(_fit(c, COHORT_NAME_MAX) for c in r["cohorts"]),
             r["username"], r["status"], "\n".join(r["problems"]), r["existing_user"],
             r["existing_user"] is not None, r["decision"], ",".join(r["allowed"]), "", "")
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


async def known_cohorts(batch: dict, rows: list[dict]) -> set[str]:
    """Which of the cohort names on these rows the establishment already has (one query)."""
    names = sorted({c for r in rows for c in (r.get("cohorts") or "").split("\n") if c})
    if not names:
        return set()
    return {c["name"] for c in await Cohort.select(Cohort.name).where(
        (Cohort.establishment == batch["establishment"]) & Cohort.name.is_in(names))}


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
    if batch["status"] != "preview":
        raise DomainError("Cet import est déjà lancé : les décisions ne peuvent plus changer.")
    if decision not in DECISION_LABELS:
        raise DomainError("Choisissez une décision de la liste.")
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
    from app.jobs import registry as jobs

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


# -- the job ------------------------------------------------------------------------------------
async def _usernames_with_prefix(prefix: str) -> set[str]:
    rows = await User.select(User.username).where(User.username.like(f"{prefix}%"))
    return {r["username"] for r in rows}


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
            ("email", User.email.is_in, emails),
            ("matricule", lambda v: User.matricule.is_in(v) & (User.establishment == establishment_id), matricules)):
        values = sorted({r[key] for r in rows if r[key]})
        for start in range(0, len(values), 5000):
            for account in await User.select(User.email, User.matricule).where(where(values[start:start + 5000])):
                found.add(account["email"].lower() if key == "email" else account["matricule"])
    return emails, matricules


async def _apply(redis, batch_id: int, token: str, establishment_id: int, created_by: int | None):
    establishment = await Establishment.select(Establishment.code).where(Establishment.id == establishment_id).first()
    code = establishment["code"].lower()
    rows = await ImportRow.select().where(ImportRow.batch == batch_id).order_by(ImportRow.line)
    wanted = [r for r in rows if r["status"] != "error" and r["decision"] in r["allowed"].split(",")]
    to_create = [r for r in wanted if r["decision"] in CREATE_DECISIONS]
    to_update = [r for r in wanted if r["decision"] in UPDATE_DECISIONS and r["existing_user"]]
    # row id -> (outcome, message, username the report shows: the account's, exactly)
    results: dict[int, tuple[str, str, str]] = {r["id"]: ("skipped", "", "") for r in rows}
    mails: list[tuple[str, str, str, str, str]] = []  # (email, subject, body, attachments, secret)
    done = 0

    from app.services.auth import load_current_user

    # A person gets one account, whatever was decided: an e-mail or matricule some account holds
    # by now (created since the preview), or that an earlier row of this import takes, is refused.
    taken_emails, taken_matricules = await _taken_identities(to_create, establishment_id)
    used = await _usernames_with_prefix(f"{code}.")
    plans = []
    for r in to_create:
        if (r["email"] and r["email"] in taken_emails) or (r["matricule"] and r["matricule"] in taken_matricules):
            results[r["id"]] = ("failed", "Cette adresse ou ce matricule est déjà celui d'un compte : ligne non "
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
    # Passwords: the file's (when it follows the policy) or a generated one, hashed cheaply
    # (temporary, the change is forced) off the event loop.
    replaced = [r for r in to_update if r["decision"] == "update_password" and r["password"]
                and not policy_error(r["password"])]
    hashes = await asyncio.to_thread(lambda: [hash_temporary_password(p) for p in
                                              [p[2] for p in plans] + [r["password"] for r in replaced]])
    update_hashes = dict(zip((r["id"] for r in replaced), hashes[len(plans):]))

    # Updates stay within what the GET who confirmed may manage, as of now (Scope.users_where).
    scope = await establishment_scope(await load_current_user(created_by) if created_by else None)
    accounts: dict[int, dict] = {}
    ids = sorted({r["existing_user"] for r in to_update})
    where = scope.users_where()
    for start in range(0, len(ids), 5000):
        clause = User.id.is_in(ids[start:start + 5000])
        for account in await User.select(User.id, User.username, User.email, User.matricule).where(
                clause if where is None else clause & where):
            accounts[account["id"]] = account
    # An address the file gives an existing account must be no other active account's, nor one this
    # import gives to another (one person, one account: the unique index app_user_email_unique).
    holders: dict[str, set[int]] = defaultdict(set)
    moving = sorted({r["email"] for r in to_update if r["email"] and not is_fictitious(r["email"])})
    for start in range(0, len(moving), 5000):
        for account in await User.select(User.id, User.email).where(
                User.email.is_in(moving[start:start + 5000]) & User.deactivated_at.is_null()):
            holders[account["email"].lower()].add(account["id"])
    given = {p[0]["email"] for p in plans if p[0]["email"]}

    async with db.transaction():
        created_ids: list[tuple[int, int]] = []  # (row id, user id)
        t = now()
        for start in range(0, len(plans), INSERT_CHUNK * 4):
            chunk = plans[start:start + INSERT_CHUNK * 4]
            new = []
            for (r, username, password, generated), password_hash in zip(chunk, hashes[start:start + len(chunk)]):
                email = r["email"] or fictitious_email(username)
                new.append(NewAccount(username=username, password_hash=password_hash, first_name=r["first_name"],
                                      last_name=r["last_name"], email=email, establishment=establishment_id,
                                      status="fph_agent", matricule=r["matricule"], force_password_change=True))
                if generated and not is_fictitious(email):
                    mails.append((email, *credentials_mail(r["first_name"], username), "", password))
            by_username = await insert_accounts(new, granted_by=created_by, created_at=t)
            for r, username, _, _ in chunk:
                created_ids.append((r["id"], by_username[username]))
                results[r["id"]] = ("created", "", username)
            done += len(chunk)
            await progress.update(redis, token, done=done)
            if get_settings().jobs.test_import_delay:  # the fault tests kill a worker here
                await asyncio.sleep(get_settings().jobs.test_import_delay)

        # Updates: the names, and the e-mail and matricule the file gives; the password only when
        # the GET chose to replace it. Two batched statements, whatever the number of rows.
        updates, passwords = [], []
        for r in to_update:
            account = accounts.get(r["existing_user"])
            if account is None:
                results[r["id"]] = ("failed", "Le compte existant n'est plus dans votre périmètre : il n'a pas été "
                                              "modifié.", "")
                continue
            # The file's address, unless it is the same one typed with other capitals.
            email = account["email"] if r["email"] in ("", account["email"].lower()) else r["email"]
            if email == r["email"] and not is_fictitious(email) and (
                    holders.get(email, set()) - {account["id"]} or email in given):
                results[r["id"]] = ("failed", EMAIL_TAKEN + " Le compte n'a pas été modifié.", "")
                continue
            given.add(email.lower())
            keys = user_text_fields(r["first_name"], r["last_name"], account["username"], email)
            updates.append((r["first_name"], r["last_name"], email, r["matricule"] or account["matricule"],
                            keys["search_text"], keys["last_name_key"], keys["first_name_key"], account["id"]))
            if r["id"] in update_hashes:
                passwords.append((update_hashes[r["id"]], True, account["id"]))
            created_ids.append((r["id"], account["id"]))
            results[r["id"]] = ("updated", "", account["username"])
        await bulk_update(User, [User.first_name, User.last_name, User.email, User.matricule, User.search_text,
                                 User.last_name_key, User.first_name_key], User.id, updates)
        # A replaced password writes what every new password writes (auth.new_password_values): the
        # hash, the forced change, a new credentials version (ending the person's other sessions).
        await bulk_update(User, [User.password_hash, User.force_password_change], User.id, passwords)
        replaced_ids = [p[-1] for p in passwords]
        if replaced_ids:
            await User.update({User.credentials_version: User.credentials_version + 1}).where(
                User.id.is_in(replaced_ids))
        done += len(to_update)

        # cohortN: membership of the establishment's cohorts, created when missing.
        row_cohorts = {r["id"]: [c for c in r["cohorts"].split("\n") if c] for r in rows}
        wanted_cohorts = sorted({c for rid, _ in created_ids for c in row_cohorts.get(rid, [])})
        if wanted_cohorts:
            known = {c["name"]: c["id"] for c in await Cohort.select(Cohort.id, Cohort.name).where(
                (Cohort.establishment == establishment_id) & Cohort.name.is_in(wanted_cohorts))}
            missing = [name for name in wanted_cohorts if name not in known]
            if missing:
                new = await Cohort.insert(*[Cohort(establishment=establishment_id, name=n) for n in missing]).returning(
                    Cohort.id, Cohort.name)
                known.update({c["name"]: c["id"] for c in new})
            pairs = {(known[c], uid) for rid, uid in created_ids for c in row_cohorts.get(rid, [])}
            already = await CohortMember.select(CohortMember.cohort, CohortMember.user).where(
                CohortMember.cohort.is_in(sorted(set(known.values()))) & CohortMember.user.is_in(sorted({u for _, u in pairs}))
            ) if pairs else []
            pairs -= {(a["cohort"], a["user"]) for a in already}
            await bulk_insert(CohortMember, [CohortMember.cohort, CohortMember.user, CohortMember.added_at],
                              [(c, u, t) for c, u in sorted(pairs)])
            # Cohorts synced with sessions enrol their new members there (seats counted as for
            # every way in: app/services/enrolments.sync_cohort), committed with the members.
            from app.services.enrolments import request_sync
            from app.tables.catalogue import CohortSync

            for synced in await CohortSync.select(CohortSync.cohort).where(
                    CohortSync.cohort.is_in(sorted({c for c, _ in pairs}) or [-1])).distinct():
                await request_sync(redis, synced["cohort"], created_by=created_by)

        queued = await outbox.queue_mails(mails, category="credentials", group_key=f"import:{batch_id}")
        if queued:
            from app.jobs import registry as jobs

            # Their sending, a durable run committed with the accounts and the mails.
            await jobs.IMPORT_MAILS.submit(redis, f"import:{batch_id}", created_by=created_by)

        # The report: each row's outcome and the username actually created or updated (the rows
        # not imported show none). Set-based by outcome; one batched statement for the rows whose
        # username or message differs from the preview. The file's passwords are not kept.
        by_outcome: dict[str, list[int]] = defaultdict(list)
        for row_id, (outcome, _, _) in results.items():
            by_outcome[outcome].append(row_id)
        for outcome, ids in by_outcome.items():
            for start in range(0, len(ids), 5000):
                await ImportRow.update({ImportRow.outcome: outcome}).where(ImportRow.id.is_in(ids[start:start + 5000]))
        previewed = {r["id"]: r["username"] for r in rows}
        await bulk_update(ImportRow, [ImportRow.outcome_message, ImportRow.username], ImportRow.id, [
            (message, username, row_id) for row_id, (_, message, username) in results.items()
            if message or username != previewed[row_id]])
        await ImportRow.update({ImportRow.password: ""}).where(ImportRow.batch == batch_id)
        counts = {k: 0 for k in ("created", "updated", "skipped", "failed")}
        for outcome, _, _ in results.values():
            counts[outcome] += 1
        await ImportBatch.update({
            ImportBatch.status: "done", ImportBatch.created_count: counts["created"],
            ImportBatch.updated_count: counts["updated"], ImportBatch.skipped_count: counts["skipped"],
            ImportBatch.failed_count: counts["failed"], ImportBatch.finished_at: now(),
            ImportBatch.error: "",
        }).where(ImportBatch.id == batch_id)
    return counts, queued
