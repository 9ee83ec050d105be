"""D3 in Chromium, JavaScript on and off: the GET downloads all the certificates of a session as a
ZIP built by a job, then an anonymous visitor verifies a code by typing it and checks the PDF."""

import io
import zipfile

import pytest

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
        await page.get_by_role("button", name="Télécharger toutes les attestations valides (ZIP, 2)").click()
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
        await visitor.get_by_text("Aucune attestation ne correspond à ce code.").wait_for()
    finally:
        await context.close()
