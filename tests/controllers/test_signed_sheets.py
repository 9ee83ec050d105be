"""The signed attendance sheet over HTTP (issue 22): its download by the managers in scope and the
slot's trainers (everyone else: the same 404 as a missing slot), the message before the closing,
and the public verification (by code, the /verifier fall-through, the upload check, the rate limit)."""

import hashlib
from datetime import date, time

from app.controllers.certificates import VERIFY_LIMIT
from app.services import files
from app.services.certificates.common import check_char
from app.services.passwords import hash_password
from app.tables.accounts import User
from app.tables.catalogue import SessionSlot
from app.tables.evidence import AttendanceRecord, SlotClosure, SlotTrainer
from tests import factories
from tests._closures import closed_slot, signature_png
from tests.helpers import DEMO_PASSWORD, login, post_form, text
from tests.services.test_certificates import pdf_text


async def _sheet_pdf(slot_id: int) -> bytes:
    """The signed sheet's PDF as kept (stored_file_chunk pieces, issue 24)."""
    closure = await SlotClosure.select(SlotClosure.file).where(SlotClosure.slot == slot_id).first()
    return await files.content(closure["file"])


async def _username(user_id: int) -> str:
    await User.update({User.password_hash: hash_password(DEMO_PASSWORD)}).where(User.id == user_id)
    return (await User.select(User.username).where(User.id == user_id).first())["username"]


async def test_managers_in_scope_and_the_slots_trainers_download_the_sheet_nobody_else(client, new_client):
    built = await closed_slot(learners=3, excused=(1,))
    url = f"/creneaux/{built.slot_id}/feuille-signee.pdf"
    await login(client, "alp001.get")
    download = await client.get(url)
    assert download.status_code == 200 and download.headers["content-type"] == "application/pdf"
    assert download.headers["cache-control"] == "private, no-store"
    assert download.headers["content-disposition"].startswith("attachment;")
    closure = await SlotClosure.select().where(SlotClosure.slot == built.slot_id).first()
    assert hashlib.sha256(download.content).hexdigest() == closure["pdf_sha256"] and closure["file"] is not None
    shown = pdf_text(download.content)
    assert all(name in shown for name in built.names) and closure["records_sha256"] in shown.replace(" ", "")

    async with new_client() as trainer:
        await login(trainer, await _username(built.trainer_id))
        again = await trainer.get(url)
        assert again.status_code == 200 and again.content == download.content  # the kept sheet

    # Another trainer of the session who does not train this slot, a learner of the session, a manager
    # of another establishment, and a missing slot: one and the same answer.
    other_slot = (await SessionSlot.insert(SessionSlot(session=built.session_id, day=date(2030, 1, 2), starts=time(9),
                                                       ends=time(12))).returning(SessionSlot.id))[0]["id"]
    other_trainer = await factories.trainer(built.session_id, slot_ids=[other_slot])
    await SlotTrainer.insert(SlotTrainer(slot=built.slot_id, user=built.trainer_id))  # this slot: its trainer only
    learner = (await User.select(User.id).where(User.username.like("fab%")).first())["id"]
    answers = []
    for user in (await _username(other_trainer), await _username(learner), "dam001.get"):
        async with new_client() as someone:
            await login(someone, user)
            response = await someone.get(url)
            missing = await someone.get("/creneaux/999999/feuille-signee.pdf")
            answers.append({(r.status_code, text(r.text)) for r in (response, missing)})
    assert all(len(a) == 1 for a in answers)  # each person: this slot's answer is the missing slot's
    assert all(status == 404 and "Créneau introuvable." in page for a in answers for status, page in a)
    async with new_client() as anonymous:
        assert (await anonymous.get(url)).status_code in (302, 303, 401)


async def test_a_slot_not_closed_yet_says_so(client):
    built = await factories.session_with_learners(
        (await User.select(User.establishment).where(User.username == "alp001.get").first())["establishment"])
    slot_id = (await SessionSlot.select(SessionSlot.id).where(SessionSlot.session == built.id).first())["id"]
    await login(client, "alp001.get")
    response = await client.get(f"/creneaux/{slot_id}/feuille-signee.pdf")
    assert response.status_code == 409
    assert ("Ce créneau n'est pas encore clôturé : la feuille signée sera disponible après la contre-signature "
            "du formateur.") in text(response.text)


async def test_the_public_verification_shows_the_closing_and_checks_an_uploaded_pdf(client, new_client):
    built = await closed_slot(learners=3, excused=(1,), absent=(2,))
    async with new_client() as anonymous:
        page = await anonymous.get(f"/verifier/emargement/{built.code.lower()}")
        assert page.status_code == 200
        shown = text(page.text)
        closure = await SlotClosure.select().where(SlotClosure.slot == built.slot_id).first()
        snap = built.snapshot
        assert "Feuille d'émargement authentique" in shown
        assert snap["session"]["code"] in shown and snap["session"]["name"] in shown
        assert f"{snap['slot']['day_fr']}, de 09:00 à 12:30" in shown and snap["trainers"][0]["name"] in shown
        assert snap["closed_at_fr"] in shown and "1 présent(s), 1 absent(s), 1 excusé(s)" in shown
        assert closure["records_sha256"] in shown and closure["pdf_sha256"] and closure["pdf_sha256"] in shown
        assert all(name in shown for name in built.names)
        assert "Rendez-vous médical" not in shown and "data:image" not in page.text  # no reason, no signature

        sheet = await anonymous.get(f"/verifier/emargement/{built.code}")
        pdf = await _sheet_pdf(built.slot_id)
        same = await post_form(anonymous, f"/verifier/emargement/{built.code}",
                               files={"file": ("feuille.pdf", bytes(pdf), "application/pdf")})
        assert sheet.status_code == 200 and same.status_code == 200
        assert "Le fichier est identique à la feuille d'émargement délivrée" in text(same.text)
        changed = await post_form(anonymous, f"/verifier/emargement/{built.code}",
                                  files={"file": ("feuille.pdf", bytes(pdf)[:-12] + b"000000000000", "application/pdf")})
        assert "Le fichier ne correspond pas" in text(changed.text)
        not_pdf = await post_form(anonymous, f"/verifier/emargement/{built.code}",
                                  files={"file": ("photo.png", b"\x89PNG....", "image/png")})
        assert not_pdf.status_code == 422 and "pas un PDF" in text(not_pdf.text)

        # The records changed since the closing: said.
        await SlotClosure.update({SlotClosure.snapshot: {**snap, "totals": {"present": 3, "absent": 0, "excused": 0}}}).where(
            SlotClosure.slot == built.slot_id)
        assert "ne correspondent plus à leur empreinte" in text((await anonymous.get(
            f"/verifier/emargement/{built.code}")).text)


async def test_unknown_codes_answer_like_the_certificates_and_the_verifier_form_falls_through(client, new_client):
    built = await closed_slot(learners=1)
    body = "23456789A"
    unknown = body + check_char(body)
    async with new_client() as anonymous:
        answers = []
        for url in (f"/verifier/emargement/{unknown}", "/verifier/emargement/NIMPORTEQU", f"/verifier/{unknown}"):
            response = await anonymous.get(url)
            answers.append((response.status_code, text(response.text).replace("NIMPORTEQU", unknown)))
        assert len(set(answers)) == 1 and answers[0][0] == 404
        assert "Aucun document ne correspond à ce code" in answers[0][1]
        # A closure's code typed in the certificates' form (or in its URL) answers with the sheet's page.
        typed = await anonymous.get("/verifier", params={"code": f"{built.code[:5]}-{built.code[5:]}".lower()})
        by_url = await anonymous.get(f"/verifier/{built.code}")
        for response in (typed, by_url):
            assert response.status_code == 200 and "Feuille d'émargement authentique" in text(response.text)
            assert f'action="/verifier/emargement/{built.code}"' in response.text


async def test_the_verifier_form_checks_a_sheets_pdf_and_counts_each_lookup_once(client, new_client, redis_client):
    built = await closed_slot(learners=1)
    async with new_client() as anonymous:
        assert (await anonymous.get(f"/verifier/emargement/{built.code}")).status_code == 200  # sealed: 1 lookup
        pdf = await _sheet_pdf(built.slot_id)
        # The certificates' upload form with a sheet's code: the PDF is checked, not dropped by a redirect.
        same = await post_form(anonymous, f"/verifier/{built.code}", files={"file": ("feuille.pdf", pdf, "application/pdf")})
        assert same.status_code == 200 and "Le fichier est identique à la feuille d'émargement délivrée" in text(same.text)
        changed = await post_form(anonymous, f"/verifier/{built.code}",
                                  files={"file": ("feuille.pdf", pdf[:-12] + b"000000000000", "application/pdf")})
        assert changed.status_code == 200 and "Le fichier ne correspond pas" in text(changed.text)
        assert (await anonymous.get("/verifier", params={"code": built.code})).status_code == 200
        # 4 lookups so far, each counted once: 16 more are allowed, the 21st is not.
        statuses = [(await anonymous.get(f"/verifier/{built.code}")).status_code for _ in range(VERIFY_LIMIT.limit - 4)]
        assert statuses == [200] * (VERIFY_LIMIT.limit - 4)
        assert (await anonymous.get(f"/verifier/{built.code}")).status_code == 429


async def test_the_verification_shares_the_certificates_rate_limit(client, new_client):
    async with new_client() as anonymous:
        statuses = [(await anonymous.get("/verifier/emargement/ABCDE-FGHJK")).status_code
                    for _ in range(VERIFY_LIMIT.limit)]
        assert statuses == [404] * VERIFY_LIMIT.limit
        limited = await anonymous.get("/verifier/emargement/ABCDE-FGHJK")
        assert limited.status_code == 429 and "Trop de vérifications" in text(limited.text)
        assert (await anonymous.get("/verifier", params={"code": "ABCDE-FGHJK"})).status_code == 429


async def test_a_tampered_signature_is_a_french_refusal_on_download_and_on_the_public_page(client, new_client):
    built = await closed_slot(learners=2)
    victim = built.snapshot["rows"][1]
    await AttendanceRecord.update({AttendanceRecord.signature: signature_png(777)}).where(
        AttendanceRecord.id == victim["record"])
    await login(client, "alp001.get")
    refused = await client.get(f"/creneaux/{built.slot_id}/feuille-signee.pdf")
    assert refused.status_code == 409
    assert f"La signature de {victim['name']} ne correspond plus à celle enregistrée à la clôture" in text(refused.text)
    async with new_client() as anonymous:
        page = await anonymous.get(f"/verifier/emargement/{built.code}")
        assert page.status_code == 200 and "ne correspond plus à celle enregistrée" in text(page.text)
        assert "non disponible" in text(page.text) and "authentique" not in text(page.text)
        assert "Comparer le fichier" not in page.text  # no PDF hash to compare an upload with


async def test_a_sheet_whose_image_cannot_be_decoded_is_a_french_answer_on_download_and_verification(client, new_client):
    from tests.services.test_signed_sheet import _poison, _sound_header_then_junk

    built = await closed_slot(learners=2)
    row = await _poison(built, _sound_header_then_junk())
    await login(client, "alp001.get")
    refused = await client.get(f"/creneaux/{built.slot_id}/feuille-signee.pdf")
    assert refused.status_code == 409
    assert f"La signature de {row['name']} n'est pas une image PNG lisible" in text(refused.text)
    async with new_client() as anonymous:
        for _ in range(2):  # every visit: the page, never a 500
            page = await anonymous.get(f"/verifier/emargement/{built.code}")
            assert page.status_code == 200 and "n'est pas une image PNG lisible" in text(page.text)

