"""Issue 20 point 23: one French number format in every CSV (a decimal comma, as analytics writes
it), and dates as real dates in every Excel (never a date as text, never the text « Jamais » in a
date column: an empty cell)."""

import csv
import io
from datetime import date, datetime, timezone

from openpyxl import load_workbook

from app.tables.catalogue import TrainingSession
from app.tables.learning import Enrolment
from app.tables.org import Establishment
from app.tables.registration import RegistrationRequest
from tests.helpers import login

SENT = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)  # 10:30 in Paris


async def _session() -> int:
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    return (await TrainingSession.insert(TrainingSession(
        establishment=alp001, full_name="Session QVT", short_name="QVT", start_date=date(2026, 3, 9),
        end_date=date(2026, 3, 10), code="26X00S1")).returning(TrainingSession.id))[0]["id"]


def _sheet(content: bytes):
    return list(load_workbook(io.BytesIO(content)).worksheets[0].iter_rows())


async def test_the_requests_excel_has_a_date_cell_for_envoyee_le(client):
    session_id = await _session()
    await RegistrationRequest.insert(RegistrationRequest(reference="DEM-1", status="confirmed", session=session_id,
                                                         first_name="Ana", last_name="Lys", submitted_at=SENT))
    await login(client, "inscriptions")
    rows = _sheet((await client.get("/gestion-inscriptions/demandes?export=xlsx")).content)
    headers = [c.value for c in rows[0]]
    cell = rows[1][headers.index("Envoyée le")]
    assert cell.is_date and cell.value == datetime(2026, 3, 2, 10, 30)


async def test_never_is_an_empty_cell_in_a_date_column(client):
    await login(client, "alp001.get")
    rows = _sheet((await client.get("/utilisateurs?last_access=never&export=xlsx")).content)
    headers = [c.value for c in rows[0]]
    assert len(rows) > 2 and {r[headers.index("Dernier accès")].value for r in rows[1:]} == {None}


async def test_hours_in_the_progress_csv_have_a_decimal_comma(client):
    from app.services.enrolments import add_sources
    from app.tables.accounts import RoleAssignment
    from app.tables.learning import SourceKind

    session_id = await _session()
    alp001 = (await TrainingSession.select(TrainingSession.establishment).where(
        TrainingSession.id == session_id).first())["establishment"]
    learner = (await RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == "learner") & (RoleAssignment.establishment == alp001)).first())["user"]
    await add_sources(session_id, [learner], SourceKind.manual)
    await Enrolment.update({Enrolment.attended_minutes: 210}).where(Enrolment.session == session_id)
    await login(client, "alp001.get")
    content = (await client.get(f"/sessions/{session_id}/progression?export=csv&which=all")).content
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))
    headers = rows.index(next(r for r in rows if r and r[0] == "Prénom / Nom"))
    hours = rows[headers].index("Heures de présence")
    assert rows[headers + 1][hours] == "3,5"
