"""Reading an uploaded file: whole-file checks (size, encoding, header, blank and NUL lines), so
nothing is written if the file is refused."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

import polars as pl

from app.services.imports.common import ImportRejected
from app.services.imports.xlsx import _frame_from_xlsx
from app.services.text import number_fr
from app.settings import get_settings

REQUIRED = ["firstname", "lastname", "password", "email", "profile_field_matricule"]
COHORT_RE = re.compile(r"^cohort[1-9][0-9]*$")
EXPECTED_TEXT = "firstname, lastname, password, email, profile_field_matricule (puis cohort1, cohort2… facultatives)"


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
