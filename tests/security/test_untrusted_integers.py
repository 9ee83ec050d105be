"""Issue 19.1: numbers from outside go through one parser (app/numbers.py) that checks the length
before ``int()``. Python refuses more than 4,300 digits with a ValueError, and a shorter number can
still be past what the database holds: every place answers a French 4xx (or ignores the value),
never « Erreur interne »."""

import pytest

from app.numbers import INT64_MAX, to_int
from app.services import files
from app.tables.catalogue import SessionActivity
from app.tables.learning import Attendance
from tests.controllers.test_attendance import _grid_form
from tests.controllers.test_attendance import _session as attendance_session
from tests.controllers.test_learner_space import _setup
from tests.helpers import login, post_form, text

HUGE = "9" * 5000  # past Python's 4,300-digit limit of int()
LONG = "9" * 40  # int() takes it; no database column holds it
PAYLOADS = (HUGE, LONG)


def _no_internal_error(response, where):
    assert response.status_code < 500, f"{where}: {response.status_code}"
    assert "Erreur interne" not in response.text, where


def test_the_parser_checks_the_length_and_the_bounds():
    assert to_int(HUGE) is None and to_int(LONG) is None and to_int(str(2**31)) is None
    assert to_int(" 42 ") == 42 and to_int("-1") == -1 and to_int(str(INT64_MAX), high=INT64_MAX) == INT64_MAX
    for forged in ("²", "٣", "1e3", "1_000", "0x10", "", " ", "1.0", "+-1"):
        assert to_int(forged) is None, forged
    assert to_int("+3", low=0) is None  # a count or a year has no sign
    assert to_int("-3", 7, low=0) == 7


async def test_a_learner_range_header_of_5000_digits_gets_416_or_the_file(client):
    """Any enrolled learner could send these to their course file: each was a 500."""
    session, act, me = await _setup()
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 4
    file_id = await files.store("Support.pdf", pdf, None)
    await SessionActivity.update({SessionActivity.file: file_id}).where(SessionActivity.id == act["page"]["id"])
    await login(client, me["username"])
    url = f"/mes-sessions/{session['id']}/activites/{act['page']['id']}/fichier"
    for digits in PAYLOADS:
        past_the_end = await client.get(url, headers={"Range": f"bytes={digits}-"})
        assert past_the_end.status_code == 416, digits[:5]
        assert past_the_end.headers["content-range"] == f"bytes */{len(pdf)}"
        to_the_end = await client.get(url, headers={"Range": f"bytes=10-{digits}"})
        assert to_the_end.status_code == 206 and to_the_end.content == pdf[10:]
        suffix = await client.get(url, headers={"Range": f"bytes=-{digits}"})
        assert suffix.status_code == 206 and suffix.content == pdf


async def test_an_attendance_cell_key_of_5000_digits_is_ignored_with_a_message(client):
    data = await attendance_session(code="26X00S9")
    e, s = data["enrolments"], data["slots"]
    await login(client, "alp001.get")
    url = f"/sessions/{data['session']}/presences"
    for digits in PAYLOADS:
        for forged in (f"a{digits}_{s[0]}", f"a{e[0]}_{digits}"):
            response = await post_form(client, url, {forged: "present"})
            _no_internal_error(response, forged[:12])
            assert response.status_code == 422 and "Aucune présence à enregistrer" in text(response.text)
    saved = await post_form(client, url, {**_grid_form({(e[0], s[0]): "present"}), f"a{HUGE}_{s[1]}": "absent",
                                          "page": HUGE, "fill": HUGE})
    assert saved.status_code == 303
    assert await Attendance.select(Attendance.enrolment, Attendance.slot, Attendance.status) == [
        {"enrolment": e[0], "slot": s[0], "status": "present"}]


async def test_paths_queries_and_forms_walked_with_huge_numbers(client):
    session, act, me = await _setup()
    sid = session["id"]
    await login(client, "alp001.get")
    for digits in PAYLOADS:
        # Path parameters typed {…:int}: a missing page, in French.
        for url in (f"/sessions/{digits}/", f"/sessions/{sid}/progression/{digits}", f"/attestations/{digits}",
                    f"/utilisateurs/{digits}/modifier"):
            response = await client.get(url)
            assert response.status_code == 404, f"{url[:40]}: {response.status_code}"
            assert "La page ou l'élément demandé n'existe pas" in text(response.text)
        # Query strings: ignored (the first page, no filter) or refused with a message.
        for url in (f"/utilisateurs?page={digits}", f"/utilisateurs?per_page={digits}",
                    f"/utilisateurs?establishment={digits}", f"/sessions/{sid}/progression/?cohort={digits}",
                    f"/sessions/{sid}/progression/?page={digits}", f"/analytique?template={digits}",
                    f"/analytique/inscrits?establishment={digits}",
                    f"/sessions/{sid}/progression/?export=csv&which=selected&selected={digits}"):
            response = await client.get(url)
            _no_internal_error(response, url[:60])
            assert response.status_code in (200, 303, 400, 404, 422), url[:60]
        # Typed form fields: the service's French message.
        edited = await post_form(client, f"/sessions/{sid}/parametres", {"seats": digits})
        _no_internal_error(edited, "seats")


async def test_the_public_wizard_refuses_a_5000_digit_mandate_year_with_a_message(client):
    from tests.controllers.test_registration import _answers, _session

    await _session()
    await post_form(client, "/inscription/", {"code": "26C03S1", "action": "new"})
    answers = await _answers()
    for step in (2, 3, 4):
        assert (await post_form(client, f"/inscription/etape/{step}", {**answers[step], "go": "next"})).status_code == 303
    for digits in PAYLOADS:
        response = await post_form(client, "/inscription/etape/5", {**answers[5], "mandate_year": digits, "go": "next"})
        assert response.status_code == 422 and "Année invalide" in text(response.text)


@pytest.mark.parametrize("digits", PAYLOADS, ids=["5000-digits", "40-digits"])
def test_an_xlsx_dimension_of_huge_rows_is_refused_as_too_big(digits):
    from app.services.imports import ImportRejected
    from app.services.imports.xlsx import _scan_sheet

    sheet = f'<worksheet><dimension ref="A1:B{digits}"/><sheetData/></worksheet>'.encode()
    with pytest.raises(ImportRejected) as refused:
        list(_scan_sheet([sheet], max_rows=100))
    assert "La feuille du classeur est trop grande : elle s'étend jusqu'à" in refused.value.message
