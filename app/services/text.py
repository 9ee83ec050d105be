"""Text normalisation shared by usernames and accent-insensitive search."""

import re
import unicodedata
from functools import lru_cache

from piccolo.columns.combination import Where
from piccolo.columns.operators.comparison import ComparisonOperator

from app.numbers import number_fr  # noqa: F401 - moved below the services (app/jobs/durable.py uses it)


class Multiline(str):
    """The type of a multi-line form field (a textarea) in a form model: its line breaks are kept
    (as "\\n"); every other field is single-line (see ``fold_controls``)."""


# Line breaks of every kind: CR LF, CR, LF, NEL, VT, FF, LINE and PARAGRAPH SEPARATOR.
_BREAKS = re.compile("\r\n|[\r\n\x0b\x0c\x85\u2028\u2029]")
# The bidirectional embeddings, overrides and isolates (a regex class's inside): a U+202E
# (right-to-left override) in "rapport\u202efdp.exe" shows it as « rapportexe.pdf ». Every typed
# text loses them (here, a file's name in app/services/files.py, a survey answer).
BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
# C0 and C1 controls, DEL (tabs included), and the bidirectional controls.
_CONTROLS = re.compile(f"[\x00-\x1f\x7f-\x9f{BIDI_CONTROLS}]+")
_CONTROLS_AND_BREAKS = re.compile(f"[\x00-\x1f\x7f-\x9f{BIDI_CONTROLS}\u2028\u2029]+")


def fold_controls(text: str, multiline: bool = False) -> str:
    """A typed value without control characters. A single-line field (a title, a name, an address)
    folds every run of them, line breaks included, into one space: a forged "Titre\\r\\nBcc: …"
    would otherwise show as separate lines in a mail's body. A multi-line field keeps its line
    breaks (as "\\n") and folds the rest (a tab, NUL, ESC) the same way."""
    if multiline:
        return "\n".join(_CONTROLS.sub(" ", line) for line in _BREAKS.split(text))
    return _CONTROLS_AND_BREAKS.sub(" ", text)


def fold(text: str | None) -> str:
    """Lower-case, accents removed: 'Élodie' -> 'elodie'. Same result on every database."""
    if not text:
        return ""
    if text.isascii():  # no accent to remove, and casefold() is lower() there: an address, a username
        return text.lower()
    return _fold(text)


@lru_cache(maxsize=65536)
def _fold(text: str) -> str:
    # Cached: an import folds the same names several times (username, search columns, homonyms),
    # and first names repeat across thousands of rows.
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.replace("œ", "oe").replace("Œ", "oe").replace("æ", "ae").casefold()


def user_search_text(first_name: str, last_name: str, username: str = "", email: str = "") -> str:
    """What the user filters search in: folded so 'élodie' finds 'Élodie' on SQLite too."""
    return " ".join(fold(p) for p in (last_name, first_name, username, email) if p)


def user_text_fields(first_name: str, last_name: str, username: str = "", email: str = "") -> dict:
    """The folded columns of a User row, to keep in step with its names."""
    return {
        "search_text": user_search_text(first_name, last_name, username, email),
        "last_name_key": fold(last_name)[:100],
        "first_name_key": fold(first_name)[:100],
    }


SHORT_SEARCH = 2

# LIKE with an escape character, the same on PostgreSQL and SQLite (SQLite has none by default): what
# someone types is text, never a pattern (« 50% », « a_b » find only themselves).
LIKE_ESCAPE = "\\"


class _LikeText(ComparisonOperator):
    template = "{name} LIKE {value} ESCAPE '" + LIKE_ESCAPE + "'"


class _ILikeText(ComparisonOperator):
    template = "{name} ILIKE {value} ESCAPE '" + LIKE_ESCAPE + "'"


def like_literal(text: str) -> str:
    """``text`` as a LIKE pattern matching only itself: its ``%``, ``_`` and escape character escaped."""
    return text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")


def contains(column, text: str, ignore_case: bool = False) -> Where:
    """``column`` contains ``text``, taken literally (LIKE '%…%' with its wildcards escaped).
    ``ignore_case``: ILIKE on PostgreSQL; SQLite's LIKE ignores the case of ASCII letters anyway."""
    return _like(column, f"%{like_literal(text)}%", ignore_case)


def starts_with(column, text: str, ignore_case: bool = False) -> Where:
    """``column`` begins with ``text``, taken literally (on PostgreSQL a b-tree range when the
    column compares byte by byte: COLLATE "C" or ``text_pattern_ops``)."""
    return _like(column, f"{like_literal(text)}%", ignore_case)


def _like(column, pattern: str, ignore_case: bool) -> Where:
    postgres = column._meta.engine_type in ("postgres", "cockroach")
    return Where(column=column, value=pattern, operator=_ILikeText if ignore_case and postgres else _LikeText)


def search(column, value: str):
    """An accent- and case-insensitive search on a folded column (``*_key``, ``search_text``): the
    same answer on PostgreSQL and SQLite. None (no filter) for a blank value.

    Three characters or more: the text contains them (on PostgreSQL, a trigram index serves it).
    One or two characters: the text begins with them ("du" finds Dupont and Durand, not Arduin):
    what someone typing two letters looks for, and a range of a b-tree (``text_pattern_ops`` on
    PostgreSQL), where "contains" would read every row. What is typed is text: ``%`` and ``_`` match
    only themselves (``contains``, ``starts_with``)."""
    folded = fold(value).strip()
    if not folded:
        return None
    if len(folded) <= SHORT_SEARCH:
        return starts_with(column, folded)
    return contains(column, folded)


def search_text(*parts: str | None) -> str:
    """The folded text a list's search looks in."""
    return " ".join(fold(p) for p in parts if p)


_NOT_WORD = re.compile(r"[^0-9a-z]+")


def loose(text: str | None) -> str:
    """Folded, and every run of punctuation, hyphens and spaces one space: "Mairie de
    Mollans-sur-Ouvèze" and "mairie de  mollans sur ouveze" are the same name. For place names,
    typed with or without their hyphens and apostrophes."""
    return _NOT_WORD.sub(" ", fold(text)).strip()


def loose_search_text(*parts: str | None) -> str:
    """The search text of a table searched with ``loose`` values (organisations)."""
    return " ".join(loose(p) for p in parts if p)

