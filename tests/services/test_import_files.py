"""Reading the files GETs really send (SPEC A3): French Excel CSVs, .xlsx, and the bad ones."""

import io
import time

import polars as pl
import pytest

from app.services.imports import ImportRejected, read_file

HEADER = "firstname;lastname;password;email;profile_field_matricule"


def _csv(lines, sep=";", encoding="utf-8", newline="\r\n", bom=False) -> bytes:
    content = newline.join(line.replace(";", sep) for line in lines) + newline
    data = content.encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


@pytest.mark.smoke
@pytest.mark.parametrize("sep", [";", ","])
@pytest.mark.parametrize("encoding,bom", [("utf-8", False), ("utf-8", True), ("windows-1252", False)])
def test_french_excel_variants(sep, encoding, bom):
    content = _csv([HEADER, "Élodie;Lefèvre;Anfh_2025;e.lefevre@example.org;812", ";;;;", ";;;;"],
                   sep=sep, encoding=encoding, bom=bom)
    parsed = read_file(content, "comptes.csv")
    assert len(parsed.rows) == 1  # trailing empty rows dropped
    row = parsed.rows[0]
    assert (row["firstname"], row["lastname"], row["profile_field_matricule"]) == ("Élodie", "Lefèvre", "812")
    assert row["_line"] == 2


def test_cohort_columns_header_case_and_blank_cells():
    content = _csv(["FirstName;LastName;Password;Email;profile_field_matricule;cohort1;cohort2",
                    "bea;TRICE;;Bea.trice@xx.fr;1234;Cohorte_Ex25;",
                    "", "Luc;Martin;Anfh_2025;;;;"], newline="\n")
    parsed = read_file(content, "avec_cohorte.csv")
    assert parsed.cohort_columns == ["cohort1", "cohort2"]
    assert [r["_line"] for r in parsed.rows] == [2, 4]
    assert parsed.rows[0]["cohort1"] == "Cohorte_Ex25" and parsed.rows[1]["email"] == ""


def test_xlsx_is_accepted():
    frame = pl.DataFrame({"firstname": ["Zoé"], "lastname": ["Noël"], "password": [""], "email": ["z@example.org"],
                          "profile_field_matricule": ["77"]})
    buffer = io.BytesIO()
    frame.write_excel(buffer)
    parsed = read_file(buffer.getvalue(), "comptes.xlsx")
    assert parsed.rows[0]["lastname"] == "Noël" and parsed.rows[0]["profile_field_matricule"] == "77"


@pytest.mark.smoke
@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "Le fichier est vide."),
        (b"\r\n;;\r\n", "Le fichier est vide."),
        (_csv([HEADER]), "aucune ligne de compte"),
        (_csv(["firstname;lastname;password;mail;profile_field_matricule", "a;b;c;d;e"]),
         "colonne(s) manquante(s) : email ; colonne(s) inconnue(s) : mail"),
        (_csv(["firstname;lastname;password;email", "a;b;c;d"]), "colonne(s) manquante(s) : profile_field_matricule"),
        (_csv([HEADER + ";email", "a;b;c;d;e;f"]), "colonne(s) en double : email"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "contenu binaire"),
        (b"PK\x03\x04garbage", "Le classeur Excel n'a pas pu être lu"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message(content, message):
    with pytest.raises(ImportRejected) as refused:
        read_file(content, "x.csv")
    assert message in refused.value.message


def test_size_and_row_limits():
    big = _csv([HEADER] + [f"Prénom{i};Nom{i};;p{i}@example.org;{i}" for i in range(120_000)])
    with pytest.raises(ImportRejected) as refused:
        read_file(big, "big.csv")
    assert "la taille maximale est de 5 Mo" in refused.value.message
    many = _csv([HEADER] + [f"P;N{i};;;{i}" for i in range(20_001)])
    assert len(many) < 5 * 1024 * 1024
    with pytest.raises(ImportRejected) as refused:
        read_file(many, "many.csv")
    assert "limité à 20\u202f000 comptes" in refused.value.message


# -- what a hostile or broken file cannot do -----------------------------------------------------
import zipfile  # noqa: E402

_CT = (b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
       b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
       b'<Default Extension="xml" ContentType="application/xml"/>'
       b'<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
       b'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
_RELS = (b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK = (b'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
             b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
             b'<sheet name="Feuil1" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = (b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                  b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
_SHEET_START = b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'


def _cell(ref: str, value: str) -> bytes:
    return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'.encode()


_HEADER_ROW = b'<row r="1">' + b"".join(
    _cell(f"{c}1", n) for c, n in zip("ABCDE", HEADER.split(";"))) + b"</row>"


def _workbook(sheet_chunks) -> bytes:
    """A minimal .xlsx whose sheet XML is written chunk by chunk (streamed into the zip)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CT)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            for chunk in sheet_chunks:
                sheet.write(chunk)
    return buffer.getvalue()


def test_a_minimal_workbook_is_read():
    content = _workbook([_SHEET_START, b"<sheetData>", _HEADER_ROW, b'<row r="2">',
                         *(_cell(f"{c}2", v) for c, v in zip("ABCDE", ["Zoé", "Noël", "", "z@example.org", "77"])),
                         b"</row></sheetData></worksheet>"])
    assert read_file(content, "comptes.xlsx").rows[0]["lastname"] == "Noël"


def test_zip_bomb_workbook_is_refused_before_parsing():
    """300 MB of zeros in the sheet compress to 0.3 MB: refused from the sizes, nothing inflated."""
    zeros = b"0" * (1 << 20)
    content = _workbook([_SHEET_START, b"<sheetData>", _HEADER_ROW, *(zeros for _ in range(300)),
                         b"</sheetData></worksheet>"])
    assert len(content) < 1_048_576
    started = time.perf_counter()
    with pytest.raises(ImportRejected) as refused:
        read_file(content, "comptes.xlsx")
    assert "anormalement volumineux une fois décompressé (plus de 50 Mo)" in refused.value.message
    assert time.perf_counter() - started < 1


def test_zip_sizes_that_lie_are_not_trusted():
    """The sheet declares 900 bytes but inflates to 60 MB: the reader never gets more than was checked."""
    zeros = b" " * (1 << 20)
    content = bytearray(_workbook([_SHEET_START, b"<sheetData>", _HEADER_ROW, *(zeros for _ in range(60)),
                                   b"</sheetData></worksheet>"]))
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := content.find(signature, start)) >= 0:
            name_length = int.from_bytes(content[start + (26 if signature == b"PK\x03\x04" else 28):][:2], "little")
            name_at = start + (30 if signature == b"PK\x03\x04" else 46)
            if content[name_at:name_at + name_length] == b"xl/worksheets/sheet1.xml":
                content[start + size_at:start + size_at + 4] = (900).to_bytes(4, "little")
            start += 4
    with pytest.raises(ImportRejected) as refused:
        read_file(bytes(content), "comptes.xlsx")
    assert "Le classeur Excel" in refused.value.message


@pytest.mark.parametrize("cells,where", [
    ([b'<row r="100000">', _cell("A100000", "x"), b"</row>"], "elle va jusqu'à la ligne 100\u202f000"),
    ([b'<row r="2">', _cell("BZ2", "x"), b"</row>"], "une cellule est en BZ2"),
])
def test_a_sheet_reaching_far_is_refused_before_parsing(cells, where):
    content = _workbook([_SHEET_START, b"<sheetData>", _HEADER_ROW, *cells, b"</sheetData></worksheet>"])
    with pytest.raises(ImportRejected) as refused:
        read_file(content, "comptes.xlsx")
    assert f"La feuille du classeur est trop grande : {where}" in refused.value.message
    assert "limité à 20\u202f000 lignes et 50 colonnes" in refused.value.message


def test_a_declared_dimension_beyond_the_limits_is_refused():
    content = _workbook([_SHEET_START, b'<dimension ref="A1:XFD1048576"/><sheetData>', _HEADER_ROW,
                         b"</sheetData></worksheet>"])
    with pytest.raises(ImportRejected) as refused:
        read_file(content, "comptes.xlsx")
    assert "elle s'étend jusqu'à la cellule XFD1048576" in refused.value.message


def test_mixed_encodings_are_refused_with_the_lines():
    content = (HEADER + "\r\n").encode() + "Élodie;Martin;;e.martin@example.org;1\r\n".encode("utf-8") + \
        "Jérôme;Lefèvre;;j.lefevre@example.org;2\r\n".encode("windows-1252")
    with pytest.raises(ImportRejected) as refused:
        read_file(content, "comptes.csv")
    message = refused.value.message
    assert "mélange deux encodages : la ligne 2 est en UTF-8, la ligne 3 en Windows-1252" in message
    assert "CSV UTF-8" in message


def test_utf16_is_named():
    content = "\r\n".join([HEADER, "Zoé;Noël;;z@example.org;1"]).encode("utf-16")
    with pytest.raises(ImportRejected) as refused:
        read_file(content, "comptes.csv")
    assert "UTF-16" in refused.value.message


def test_a_nul_byte_anywhere_is_refused():
    lines = [HEADER] + [f"Prénom{i};Nom{i};;p{i}@example.org;{i}" for i in range(400)]
    content = _csv(lines)
    assert len(content) > 8192
    at = content.rindex(b"Nom399")
    content = content[:at] + b"N\x00om" + content[at + 3:]
    with pytest.raises(ImportRejected) as refused:
        read_file(content, "comptes.csv")
    assert "caractère nul à la ligne 401" in refused.value.message
