"""The database enforces what must be unique; a violation (two people saving the same code at the
same instant, a double submit) becomes a French message, never a 500.

``unique_violation`` reads PostgreSQL's and SQLite's errors alike into (table, columns);
``MESSAGES`` says what each means to a person; ``fields_unique`` turns a violation raised inside it
into a ``ValidationFailed`` on the right field, and the app's exception handler answers any other
one with a 409 page.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import asynccontextmanager

from app.services.errors import ValidationFailed

try:  # PostgreSQL's driver; absent nowhere in practice, but the embedded default does not need it
    from asyncpg.exceptions import IntegrityConstraintViolationError as _PgIntegrity
    from asyncpg.exceptions import UniqueViolationError as _PgUnique
except ImportError:  # pragma: no cover
    _PgIntegrity = _PgUnique = ()

INTEGRITY_ERRORS = tuple(e for e in (_PgIntegrity, sqlite3.IntegrityError) if e)

# (table, sorted columns) -> (form field, message)
MESSAGES: dict[tuple[str, tuple[str, ...]], tuple[str, str]] = {
    ("app_user", ("username",)): ("username", "Ce nom d'utilisateur vient d'être pris : choisissez-en un autre."),
    ("delegation", ("code",)): ("code", "Ce code est déjà utilisé par une autre délégation."),
    ("establishment", ("code",)): ("code", "Ce code est déjà utilisé par un autre établissement."),
    ("course_template", ("code",)): ("code", "Ce code catalogue est déjà utilisé."),
    ("training_session", ("code",)): ("code", "Ce code de session est déjà utilisé par une autre session."),
    ("cohort", ("establishment", "name")): ("name", "Une cohorte de ce nom existe déjà dans cet établissement."),
    ("ref_item", ("kind", "label")): ("label", "Cet élément existe déjà dans cette liste."),
    ("erasure_request", ("person",)): ("message", "Votre demande de suppression est déjà enregistrée : un "
                                                  "administrateur y répond dans le mois."),
    ("platform_setting", ("key",)): ("key", "Ce réglage vient d'être enregistré par quelqu'un d'autre : rechargez la page."),
}
EMAIL_TAKEN = "Cette adresse de courriel est déjà celle d'un autre compte : une personne n'a qu'un compte."
# Unique indexes on an expression (no column to name): index name -> (form field, message).
INDEX_MESSAGES: dict[str, tuple[str, str]] = {
    "app_user_email_unique": ("email", EMAIL_TAKEN),
}
GENERIC = ("Cet enregistrement entre en conflit avec un autre, qui vient peut-être d'être créé : "
           "rechargez la page et vérifiez avant de recommencer.")

_PG_KEY = re.compile(r"Key \((?P<columns>[^)]*)\)=")
_SQLITE = re.compile(r"UNIQUE constraint failed: (?P<columns>.+)$")
_SQLITE_INDEX = re.compile(r"UNIQUE constraint failed: index '(?P<name>\w+)'")


def violated_index(exc: BaseException) -> str | None:
    """The name of the unique index (or constraint) an integrity error violates, when it says."""
    if _PgUnique and isinstance(exc, _PgUnique):
        return getattr(exc, "constraint_name", None)
    if isinstance(exc, sqlite3.IntegrityError):
        match = _SQLITE_INDEX.search(str(exc))
        return match["name"] if match else None
    return None


def unique_violation(exc: BaseException) -> tuple[str, tuple[str, ...]] | None:
    """(table, sorted column names) of a unique violation, or None for any other error."""
    if _PgUnique and isinstance(exc, _PgUnique):
        match = _PG_KEY.search(getattr(exc, "detail", "") or "")
        columns = tuple(sorted(c.strip().strip('"') for c in match["columns"].split(","))) if match else ()
        return getattr(exc, "table_name", "") or "", columns
    if isinstance(exc, sqlite3.IntegrityError):
        match = _SQLITE.search(str(exc))
        if not match:
            return None
        qualified = [c.strip() for c in match["columns"].split(",")]
        table = qualified[0].split(".", 1)[0]
        return table, tuple(sorted(c.split(".", 1)[-1] for c in qualified))
    return None


def message_for(exc: BaseException) -> tuple[str | None, str]:
    """(field or None, French message) for an integrity error."""
    index = violated_index(exc)
    if index in INDEX_MESSAGES:
        return INDEX_MESSAGES[index]
    key = unique_violation(exc)
    if key and key in MESSAGES:
        return MESSAGES[key]
    return None, GENERIC


@asynccontextmanager
async def fields_unique():
    """A unique violation inside becomes ValidationFailed on the field it concerns."""
    try:
        yield
    except INTEGRITY_ERRORS as exc:
        field, message = message_for(exc)
        raise ValidationFailed({field or "__all__": message}, message) from exc
