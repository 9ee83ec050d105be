"""Reading the files GETs really send (SPEC A3): French Excel CSVs, .xlsx, and the bad ones."""

import io

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
