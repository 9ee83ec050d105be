"""D3 in Chromium, JavaScript on and off: the GET downloads all the certificates of a session as a
ZIP built by a job, then an anonymous visitor verifies a code by typing it and checks the PDF."""

import io
import zipfile

import pytest
from playwright.async_api import expect

from app.services import certificates
from tests.browser.helpers import browser_login, snap
from tests.services.test_certificates import completed_session

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_zip_download_and_public_verification(browser, live_server, demo, run_jobs, javascript, tmp_path):
    session_id, activities, learners, enrolments = await completed_session(learners_count=2, complete=2)
    certificate = await certificates.for_enrolment(enrolments[learners[0]])
    tag = "js" if javascript else "nojs"
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR", accept_downloads=True)
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "alp001.get")
        await page.goto(f"{live_server}/sessions/{session_id}")
        await page.get_by_role("link", name="Attestations").first.click()
        await page.get_by_text(certificate["display_code"]).wait_for()
        await snap(page, f"certificates-session-{tag}")
        await page.get_by_role("button", name="Télécharger toutes les attestations et certificats valides (ZIP, 2)").click()
        await page.wait_for_url("**/taches/*")
        await run_jobs()
        # htmx polls with JavaScript; without, the page refreshes itself.
        link = page.get_by_role("link", name="Télécharger les 2 attestations (ZIP)")
        await link.wait_for()
        async with page.expect_download() as info:
            await link.click()
        download = await (await info.value).path()
        with zipfile.ZipFile(download) as archive:
            assert len(archive.namelist()) == 2

        visitor = await (await browser.new_context(java_script_enabled=javascript, locale="fr-FR")).new_page()
        await visitor.goto(f"{live_server}/verifier")
        await visitor.get_by_label("Code de vérification").fill(certificate["display_code"].lower())
        await visitor.get_by_role("button", name="Vérifier").click()
        await visitor.get_by_text("Attestation authentique et valide.").wait_for()
        pdf = tmp_path / "attestation.pdf"
        pdf.write_bytes(await certificates.pdf_of(certificate))
        await visitor.get_by_label("Fichier PDF").set_input_files(str(pdf))
        await visitor.get_by_role("button", name="Comparer le fichier").click()
        await visitor.get_by_text("Le fichier est identique à l'attestation délivrée.").wait_for()
        await snap(visitor, f"certificates-verify-{tag}")
        await visitor.goto(f"{live_server}/verifier?code=ABCDE-FGHJK")
        await visitor.get_by_text("Aucun document ne correspond à ce code.").wait_for()
    finally:
        await context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_attendance_then_the_learner_completes_and_downloads(browser, live_server, demo, javascript, tmp_path):
    """The GET records attendance with JavaScript off (a plain form) and the overview shows the hours;
    the session asks 50 % attendance, so the learner's last activity completes the session: the
    « Attestation de fin de formation » appears and downloads, stating their name."""
    from datetime import date, time

    from pypdf import PdfReader

    from app.services import learning, slots
    from app.tables.accounts import User
    from app.tables.catalogue import TrainingSession
    from app.tables.learning import CompletionHow

    session_id, activities, learners, enrolments = await completed_session(learners_count=2, complete=0)
    await slots.replace(session_id, [slots.Slot(date(2026, 6, 2), time(9), time(12, 30)),
                                     slots.Slot(date(2026, 6, 2), time(13, 30), time(17))])
    await TrainingSession.update({TrainingSession.min_attendance_percent: 50, TrainingSession.progress_block: True}).where(
        TrainingSession.id == session_id)
    me = await User.select().where(User.id == learners[0]).first()
    await learning.set_completion(enrolments[learners[0]], activities[0], True, CompletionHow.manual)
    tag = "js" if javascript else "nojs"

    manager = await browser.new_context(java_script_enabled=False, locale="fr-FR", accept_downloads=True)
    page = await manager.new_page()
    try:
        await browser_login(page, live_server, "alp001.get")
        await page.goto(f"{live_server}/sessions/{session_id}")
        await page.get_by_role("link", name="Présences", exact=True).click()
        name = f"{me['last_name']} {me['first_name']}"
        await page.get_by_role("combobox", name=f"{name} 02/06/2026 09:00–12:30").select_option("present")
        await page.get_by_role("combobox", name=f"{name} 02/06/2026 13:30–17:00").select_option("absent")
        await page.get_by_role("button", name="Enregistrer les présences").click()
        await page.get_by_text("Présences enregistrées : 2 modification(s).").wait_for()
        await snap(page, f"attendance-grid-{tag}")
        await page.goto(f"{live_server}/sessions/{session_id}/progression/")
        row = page.get_by_role("row").filter(has_text=f"{me['first_name']} {me['last_name']}")
        await expect(row).to_contain_text("3,5 h", use_inner_text=True)
        await page.goto(f"{live_server}/sessions/{session_id}")
        async with page.expect_download() as info:
            await page.get_by_role("link", name="Feuille d'émargement papier (PDF)").click()
        sheet = PdfReader(await (await info.value).path())
        assert len(sheet.pages) == 2 and me["last_name"].upper() in sheet.pages[0].extract_text()
    finally:
        await manager.close()

    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR", accept_downloads=True)
    page = await context.new_page()
    try:
        await browser_login(page, live_server, me["username"])
        await page.goto(f"{live_server}/mes-sessions/{session_id}/")
        await expect(page.get_by_role("heading", name="Attestation de fin de formation")).to_have_count(0)
        await page.get_by_text("Présence : 3,5 h — la session demande au moins 50 % des heures").wait_for()
        await page.get_by_role("link", name="Activité 1").first.click()
        await page.get_by_role("button", name="J'ai terminé").click()
        await page.get_by_role("button", name="Marquer comme non terminée").wait_for()
        await page.goto(f"{live_server}/mes-sessions/{session_id}/")
        await page.get_by_role("heading", name="Attestation de fin de formation").wait_for()
        await snap(page, f"learner-certificate-{tag}")
        async with page.expect_download() as info:
            await page.get_by_role("link", name="Télécharger mon attestation (PDF)").click()
        pdf = PdfReader(await (await info.value).path())
        assert f"{me['first_name']} {me['last_name']}" in pdf.pages[0].extract_text()
    finally:
        await context.close()
