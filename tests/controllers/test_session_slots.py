"""Sessions get time slots and a place (issue 12): typed on the settings page, checked line by line
with a French message, shown on the session page and stated on the certificate."""

from datetime import date, time

import pytest

from app.services import certificates, slots
from app.tables.catalogue import SessionSlot, TrainingSession
from tests.helpers import login, post_form, text
from tests.services.test_certificates import completed_session, pdf_text


def test_slots_are_parsed_and_checked_with_french_messages():
    start, end = date(2026, 6, 2), date(2026, 6, 3)
    parsed, problem = slots.parse("03/06/2026 13:30-17:00\n\n02/06/2026 9h-12h30\n2026-06-02 13:30-17:00", start, end)
    assert problem is None
    assert [s.line() for s in parsed] == ["02/06/2026 09:00-12:30", "02/06/2026 13:30-17:00", "03/06/2026 13:30-17:00"]
    assert slots.summary(parsed) == "3 demi-journées, 10 h 30"
    assert slots.by_day(parsed)[0] == ("mardi 2 juin 2026", "09:00–12:30, 13:30–17:00")
    for typed, message in (("demain matin", "Ligne 1 : « demain matin » n'est pas un créneau"),
                           ("02/06/2026 12:00-09:00", "l'heure de fin doit être après"),
                           ("31/02/2026 09:00-12:00", "date ou heure impossible"),
                           ("02/06/2026 09:00-12:00\n05/06/2026 09:00-12:00", "Ligne 2 : le 05/06/2026 est en dehors de la session"),
                           ("02/06/2026 09:00-12:00\n02/06/2026 11:00-13:00", "se chevauchent")):
        assert message in slots.parse(typed, start, end)[1], typed


@pytest.mark.smoke
async def test_the_settings_page_saves_slots_and_place_and_the_session_page_shows_them(client):
    session_id, activities, learners, enrolments = await completed_session(complete=0)
    session = await TrainingSession.select().where(TrainingSession.id == session_id).first()
    await login(client, "alp001.get")
    form = {"start_date": "2026-06-02", "end_date": "2026-06-03", "full_name": session["full_name"], "short_name": "QVT",
            "visible": "1", "code": session["code"], "certificate_text": "",
            "place": "CH de Buis-les-Baronnies\nSalle Ventoux", "remote_url": "", "contact": "Emma, 04 75 00 00 00"}
    bad = await post_form(client, f"/sessions/{session_id}/parametres",
                          {**form, "slots": "02/06/2026 09:00-12:30\n04/06/2026 09:00-12:30", "remote_url": "visio"})
    assert bad.status_code == 422
    page = text(bad.text)
    assert "Ligne 2 : le 04/06/2026 est en dehors de la session" in page and "adresse web" in page
    assert "04/06/2026 09:00-12:30" in bad.text and "Salle Ventoux" in bad.text  # nothing typed is lost
    assert not await SessionSlot.exists().where(SessionSlot.session == session_id)
    ok = await post_form(client, f"/sessions/{session_id}/parametres", {
        **form, "slots": "02/06/2026 09:00-12:30\n02/06/2026 13:30-17:00\n03/06/2026 09:00-12:30",
        "remote_url": "https://visio.example.org/qvt"})
    assert ok.status_code == 303
    shown = text((await client.get(f"/sessions/{session_id}")).text)
    assert "3 demi-journées, 10 h 30" in shown and "mardi 2 juin 2026 : 09:00–12:30, 13:30–17:00" in shown
    assert "Salle Ventoux" in shown and "https://visio.example.org/qvt" in shown and "Emma, 04 75 00 00 00" in shown
    settings = await client.get(f"/sessions/{session_id}/parametres")
    assert "02/06/2026 13:30-17:00" in settings.text  # the form shows them back, one per line
    # Saving again with other slots replaces them.
    await post_form(client, f"/sessions/{session_id}/parametres", {**form, "slots": "03/06/2026 14:00-17:00"})
    assert [(r["day"], r["starts"]) for r in await SessionSlot.select().where(SessionSlot.session == session_id)] == \
        [(date(2026, 6, 3), time(14, 0))]


async def test_the_certificate_states_the_training_time_and_place(demo):
    session_id, activities, learners, enrolments = await completed_session(complete=0)
    await TrainingSession.update({TrainingSession.place: "Salle Ventoux"}).where(TrainingSession.id == session_id)
    await slots.replace(session_id, slots.parse("02/06/2026 09:00-12:30\n03/06/2026 13:30-17:00",
                                                date(2026, 6, 2), date(2026, 6, 3))[0])
    from app.services import learning
    from app.tables.learning import CompletionHow

    enrolment = enrolments[learners[0]]
    from app.services import attendance
    from app.tables.catalogue import SessionSlot

    await attendance.save(None, session_id, {(enrolment, r["id"]): "present" for r in await SessionSlot.select(
        SessionSlot.id).where(SessionSlot.session == session_id)})  # attended (issue 20: certified only then)
    for activity in activities:
        await learning.set_completion(enrolment, activity, True, CompletionHow.manual)
    pdf = await certificates.pdf_of(await certificates.for_enrolment(enrolment))
    content = pdf_text(pdf)
    assert "2 demi-journées, 7 h" in content and "Salle Ventoux" in content
    from io import BytesIO

    from pypdf import PdfReader

    assert len(PdfReader(BytesIO(pdf)).pages) == 1  # still one A4 page
