"""The .xlsx guard: what a workbook holds, checked before any parsing (zip bombs)."""

from __future__ import annotations

import io
import re
import zipfile
import zlib

import polars as pl

from app.numbers import to_int
from app.services.imports.common import ImportRejected
from app.services.text import number_fr
from app.settings import get_settings

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
