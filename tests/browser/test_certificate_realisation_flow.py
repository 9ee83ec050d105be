"""Issue 22 in Chromium, JavaScript off, on a phone (390×844) and a laptop (1366×768): the administrator
fills in the training provider (a wrong NDA refused in French, then saved with a stamp image); the
session's certificates page lists the certificat de réalisation beside the attestation; the learner
downloads their certificat, which states the NDA, the hours and the taux de réalisation."""

import pytest
from pypdf import PdfReader

from app.services import attendance, learning
from app.tables.accounts import User
from app.tables.catalogue import TrainingSession
from app.tables.learning import CompletionHow, Enrolment
from tests.browser.helpers import browser_login, snap
from tests.services.test_certificate_realisation import past_session, png

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", [(390, 844), (1366, 768)], ids=["phone", "laptop"])
async def test_provider_then_certificat_de_realisation_without_javascript(browser, live_server, demo, viewport,
                                                                         tmp_path):
    session_id, activity, (enrolment,), slot_ids = await past_session(learners=1)
    await TrainingSession.update({TrainingSession.min_attendance_percent: 50}).where(TrainingSession.id == session_id)
    await learning.set_completion(enrolment, activity, True, CompletionHow.manual)
    await attendance.save(None, session_id, {(enrolment, slot_ids[0]): "present", (enrolment, slot_ids[1]): "present",
                                             (enrolment, slot_ids[2]): "absent"})
    tag = f"{viewport[0]}x{viewport[1]}"
    stamp = tmp_path / "cachet.png"
    stamp.write_bytes(png())
    size = {"width": viewport[0], "height": viewport[1]}
    context = await browser.new_context(java_script_enabled=False, locale="fr-FR", viewport=size, accept_downloads=True)
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "admin")
        await page.goto(f"{live_server}/sessions/{session_id}/attestations")
        await page.get_by_text("Renseignez l'organisme de formation").wait_for()
        await page.get_by_role("link", name="Renseigner l'organisme de formation").click()
        await page.get_by_label("Nom de l'organisme").fill("Tremplin Formation")
        await page.get_by_label("Numéro de déclaration d'activité").fill("11 75 123")
        await page.get_by_label("Adresse").fill("3 rue des Lilas\n69002 Lyon")
        await page.get_by_role("button", name="Enregistrer").click()
        await page.get_by_text("Le numéro de déclaration d'activité compte 11 chiffres").first.wait_for()
        await snap(page, f"provider-error-{tag}")
        await page.get_by_label("Numéro de déclaration d'activité").fill("11 75 12345 75")
        await page.get_by_label("Nom du signataire").fill("Claire Durand")
        await page.get_by_label("Qualité du signataire").fill("Directrice")
        await page.get_by_label("Cachet et signature (image)").set_input_files(str(stamp))
        await page.get_by_role("button", name="Enregistrer").click()
        await page.get_by_text("Organisme de formation enregistré.").wait_for()
        await page.get_by_role("img", name="Cachet et signature actuels").wait_for()
        await snap(page, f"provider-{tag}")
        await page.goto(f"{live_server}/sessions/{session_id}/attestations")
        await page.get_by_text("7 h sur 10,5 h — 67 %").wait_for()
        await snap(page, f"certificates-both-kinds-{tag}")
    finally:
        await context.close()

    user = (await Enrolment.select(Enrolment.user).where(Enrolment.id == enrolment).first())["user"]
    username = (await User.select(User.username).where(User.id == user).first())["username"]
    context = await browser.new_context(java_script_enabled=False, locale="fr-FR", viewport=size, accept_downloads=True)
    page = await context.new_page()
    try:
        await browser_login(page, live_server, username)
        await page.goto(f"{live_server}/mes-sessions/{session_id}/")
        await page.get_by_role("heading", name="Certificat de réalisation").wait_for()
        await page.get_by_role("heading", name="Attestation de fin de formation").wait_for()
        await snap(page, f"learner-both-kinds-{tag}")
        async with page.expect_download() as info:
            await page.get_by_role("link", name="Télécharger mon certificat de réalisation (PDF)").click()
        text = " ".join(PdfReader(await (await info.value).path()).pages[0].extract_text().split())
        assert "CERTIFICAT DE RÉALISATION" in text and "11 75 12345 75" in text
        assert "réalisée à hauteur de 7 heures" in text and "Taux de réalisation : 67 %" in text
    finally:
        await context.close()
