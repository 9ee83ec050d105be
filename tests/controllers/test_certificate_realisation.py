"""Certificats de réalisation over HTTP (issue 22), JavaScript off: the provider's page (administrators
only, French messages, nothing typed lost), the session's certificates page saying why none is issued,
both kinds listed, zipped and verifiable, the learner's own download, and the taux de réalisation in
the progress overview and its export."""

import csv
import io
import re
import zipfile
from datetime import time

from app.dates import today
from app.services import attendance, certificates, learning, slots
from app.services.certificates import provider
from app.services.enrolments import add_sources
from app.tables.accounts import RoleAssignment
from app.tables.catalogue import SessionSlot, TrainingSession
from app.tables.learning import CompletionHow, Enrolment, SourceKind
from app.tables.org import Establishment
from tests.controllers.test_certificates import _learner_username
from tests.helpers import login, post_form, text
from tests.services.test_certificate_realisation import past_session, png, set_provider
from tests.services.test_certificates import pdf_text

PAGE = "/administration/organisme"


async def test_the_provider_page_is_for_administrators_and_refuses_bad_input_in_french(client, new_client):
    await login(client, "alp001.get")
    assert (await client.get(PAGE)).status_code in (403, 404)
    assert (await post_form(client, PAGE, {"name": "X", "nda": "11751234575"})).status_code in (403, 404)
    assert not provider.ready(await provider.load())

    async with new_client() as admin:
        await login(admin, "admin")
        page = text((await admin.get(PAGE)).text)
        assert "Organisme de formation" in page and "Numéro de déclaration d'activité" in page
        bad = await post_form(admin, PAGE, {"name": "Tremplin Formation", "nda": "11 75 123", "address": "1 rue A\n69002 Lyon"},
                              files={"stamp": ("cachet.gif", b"GIF89a" + b"\0" * 40, "image/gif")})
        assert bad.status_code == 422
        shown = text(bad.text)
        assert "Le numéro de déclaration d'activité compte 11 chiffres" in shown
        assert "Le cachet doit être une image PNG ou JPEG." in shown
        assert 'value="Tremplin Formation"' in bad.text and "1 rue A\n69002 Lyon" in bad.text  # nothing typed is lost
        assert not provider.ready(await provider.load())
        ok = await post_form(admin, PAGE, {"name": "Tremplin Formation", "nda": "11 75 12345 75", "signatory": "Claire Durand",
                                           "signatory_title": "Directrice", "address": "1 rue A\n69002 Lyon"},
                             files={"stamp": ("cachet.png", png(), "image/png")})
        assert ok.status_code == 303
        page = (await admin.get(PAGE)).text
        assert 'value="11 75 12345 75"' in page and 'src="data:image/jpeg;base64,' in page
        # Saved again without a file: the stamp is kept.
        await post_form(admin, PAGE, {"name": "Tremplin Formation", "nda": "11751234575"})
        assert (await provider.load())["stamp"] != ""


async def test_the_session_page_says_why_none_is_issued_then_lists_both_kinds(client, new_client):
    session_id, activity, (done, partial), slot_ids = await past_session(learners=2)
    await attendance.save(None, session_id, {(e, s): "present" for e in (done, partial) for s in slot_ids[:2]}
                          | {(done, slot_ids[2]): "present", (partial, slot_ids[2]): "absent"})
    await login(client, "alp001.get")
    page = text((await client.get(f"/sessions/{session_id}/attestations")).text)
    assert "Renseignez l'organisme de formation" in page and "Un administrateur peut le faire." in page
    async with new_client() as admin:
        await login(admin, "admin")
        assert f'href="{PAGE}"' in (await admin.get(f"/sessions/{session_id}/attestations")).text

    await set_provider()
    page = text((await client.get(f"/sessions/{session_id}/attestations")).text)
    assert "Renseignez l'organisme de formation" not in page
    # Issued on the page's first look, one per learner, with the kind and the hours.
    assert "Certificat de réalisation 10,5 h sur 10,5 h — 100 %" in page
    assert "Certificat de réalisation 7 h sur 10,5 h — 67 %" in page


async def test_the_zip_holds_both_kinds_clearly_named(client, run_jobs):
    await set_provider()
    session_id, activity, (enrolment, other), slot_ids = await past_session(learners=2)
    await learning.set_completion(enrolment, activity, True, CompletionHow.manual)
    await attendance.save(None, session_id, {(e, s): "present" for e in (enrolment, other) for s in slot_ids}
                          | {(other, slot_ids[2]): "absent"})
    await login(client, "alp001.get")
    started = await post_form(client, f"/sessions/{session_id}/attestations/zip")
    await run_jobs()
    done = await client.get(started.headers["location"])
    assert "Télécharger les 3 attestations et certificats (ZIP)" in text(done.text)
    link = re.search(r'href="([^"]+)"[^>]*>Télécharger les 3', done.text)[1]
    with zipfile.ZipFile(io.BytesIO((await client.get(link)).content)) as z:
        names = sorted(z.namelist())
        assert [n.split("-26X00S5-")[0] for n in names] == ["attestation", "certificat-realisation",
                                                           "certificat-realisation"]
        contents = {n: pdf_text(z.read(n)) for n in names}
    attestation = contents[names[0]]
    assert "Attestation de fin de formation" in attestation and "Aucune évaluation." in attestation
    for name in names[1:]:
        assert "CERTIFICAT DE RÉALISATION" in contents[name] and "11 75 12345 75" in contents[name]
        assert "pour une durée de 10,5 heures" in contents[name]
    rates = sorted(re.search(r"Taux de réalisation : (\d+) %", contents[n])[1] for n in names[1:])
    assert rates == ["100", "67"]
    assert any("réalisée à hauteur de 7 heures" in contents[n] for n in names[1:])


async def test_the_learner_downloads_their_certificat_and_the_public_page_names_the_kind(client, new_client):
    await set_provider()
    session_id, activity, (enrolment, other), slot_ids = await past_session(learners=2)
    await attendance.save(None, session_id, {(enrolment, s): "present" for s in slot_ids}
                          | {(other, s): "absent" for s in slot_ids})
    learner = (await Enrolment.select(Enrolment.user).where(Enrolment.id == enrolment).first())["user"]
    await login(client, await _learner_username(learner))
    page = text((await client.get(f"/mes-sessions/{session_id}")).text)
    assert "Certificat de réalisation" in page and "10,5 heures sur 10,5 (taux de réalisation 100 %)" in page
    assert "Attestation de fin de formation" not in page  # the activity is not done: no attestation
    mine = await client.get(f"/mes-sessions/{session_id}/attestation?kind=realisation")
    assert mine.status_code == 200 and "CERTIFICAT DE RÉALISATION" in pdf_text(mine.content)
    assert (await client.get(f"/mes-sessions/{session_id}/attestation")).status_code == 404  # no attestation yet
    async with new_client() as absent:
        # 0 h attended: no certificat, the same answer as a session that does not exist.
        user = (await Enrolment.select(Enrolment.user).where(Enrolment.id == other).first())["user"]
        await login(absent, await _learner_username(user))
        none = await absent.get(f"/mes-sessions/{session_id}/attestation?kind=realisation")
        assert none.status_code == 404
        assert (await absent.get("/mes-sessions/999999/attestation?kind=realisation")).text == none.text
    certificate = await certificates.for_enrolment(enrolment, "realisation")
    async with new_client() as anonymous:
        shown = text((await anonymous.get(f"/verifier/{certificate['code']}")).text)
        assert "Certificat authentique et valide" in shown and "Document Certificat de réalisation" in shown
        assert "10,5 heures sur 10,5 (taux de réalisation 100 %)" in shown


async def _overview_session(est: int, code: str, day_slots: list[tuple[time, time]], attended: list[int]) -> int:
    session_id = (await TrainingSession.insert(TrainingSession(
        establishment=est, full_name=f"Session {code}", short_name=code, start_date=today(), end_date=today(),
        code=code)).returning(TrainingSession.id))[0]["id"]
    await slots.replace(session_id, [slots.Slot(today(), a, b) for a, b in day_slots])
    users = [r["user"] for r in await RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == "learner") & (RoleAssignment.establishment == est)).order_by(
        RoleAssignment.user).limit(len(attended))]
    await add_sources(session_id, users, SourceKind.manual)
    for user_id, minutes in zip(users, attended):
        await Enrolment.update({Enrolment.attended_minutes: minutes}).where(
            (Enrolment.session == session_id) & (Enrolment.user == user_id))
    return session_id


def _rates(page: str) -> dict[str, str]:
    rows = re.findall(r'<th scope=row><a id=n\d+ href="[^"]+">([^<]+)</a>.*?<td class=hours>[^<]*<td class=rate>([^<\n]*)',
                      page)
    return {name: rate.strip() for name, rate in rows}


async def test_the_overview_shows_and_exports_the_taux_de_realisation(client):
    est = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    # 14 h planned (4 half-days of 3 h 30): 10,5 h → 75 %, 0 h → 0 %.
    fourteen = await _overview_session(est, "26T01S1", [(time(8), time(11, 30)), (time(12), time(15, 30)),
                                                        (time(16), time(19, 30)), (time(20), time(23, 30))], [630, 0])
    # 8 h planned: 1 h → 12,5 → 13 % (halves up).
    eight = await _overview_session(est, "26T01S2", [(time(8), time(12)), (time(13), time(17))], [60])
    # No slots: no planned hours, « — ».
    none = await _overview_session(est, "26T01S3", [], [0])
    assert await SessionSlot.count().where(SessionSlot.session == none) == 0
    await login(client, "alp001.get")
    page = (await client.get(f"/sessions/{fourteen}/progression")).text
    assert "Taux de réalisation" in text(page)
    assert sorted(_rates(page).values()) == ["0 %", "75 %"]
    by_rate = (await client.get(f"/sessions/{fourteen}/progression?sort=-rate")).text
    assert list(_rates(by_rate).values()) == ["75 %", "0 %"]
    assert list(_rates((await client.get(f"/sessions/{eight}/progression")).text).values()) == ["13 %"]
    assert list(_rates((await client.get(f"/sessions/{none}/progression")).text).values()) == ["—"]
    export = await client.get(f"/sessions/{fourteen}/progression?export=csv&which=all&sort=-rate")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig")), delimiter=";"))[5:]
    column = rows[0].index("Taux de réalisation (%)")
    assert [r[column] for r in rows[1:]] == ["75", "0"]
    export = await client.get(f"/sessions/{none}/progression?export=csv&which=all")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig")), delimiter=";"))[5:]
    assert rows[1][rows[0].index("Taux de réalisation (%)")] == ""
