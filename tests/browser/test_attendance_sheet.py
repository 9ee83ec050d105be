"""Issue 12 in Chromium, JavaScript on and off: a session too large for its attendance sheet to be
made in the request (103 learners x 3 slots, beyond SHEET_INLINE_MAX_ROWS): the GET opens the sheet
link, prepares it, follows the progress and downloads the PDF."""

import pytest
from pypdf import PdfReader

from app.services import attendance
from tests.browser.helpers import browser_login, snap
from tests.controllers.test_attendance import _session, more_learners

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_a_large_sheet_prepared_then_downloaded(browser, live_server, demo, run_jobs, javascript):
    data = await _session(code="26X00B1")
    await more_learners(data["session"], 100)
    assert 103 * 3 > attendance.SHEET_INLINE_MAX_ROWS
    tag = "js" if javascript else "nojs"
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR", accept_downloads=True)
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "alp001.get")
        await page.goto(f"{live_server}/sessions/{data['session']}")
        await page.get_by_role("link", name="Feuille d'émargement papier (PDF)").click()
        await page.get_by_text("103 stagiaire(s) et 3 créneau(x)").wait_for()
        await snap(page, f"attendance-sheet-{tag}")
        await page.get_by_role("button", name="Préparer la feuille d'émargement (PDF)").click()
        if javascript:  # the progress in place, on the same page
            await page.locator("#sheet-job #job-progress").wait_for()
            assert page.url.endswith("/emargement.pdf")
        else:  # the progress page, which refreshes itself
            await page.wait_for_url("**/taches/*")
        await run_jobs()
        link = page.get_by_role("link", name="Télécharger la feuille d'émargement papier (PDF)")
        await link.wait_for(timeout=20_000)
        await snap(page, f"attendance-sheet-done-{tag}")
        async with page.expect_download() as info:
            await link.click()
        download = await info.value
        assert download.suggested_filename == "emargement-26X00B1.pdf"
        sheet = PdfReader(await download.path())
        texts = [p.extract_text() for p in sheet.pages]
        assert len(texts) % 3 == 0 and len(texts) >= 12  # 103 learners: several pages per slot
        assert "ARNAUD Zoé" in texts[0] and "ZED99 Agent" in texts[len(texts) // 3 - 1]
    finally:
        await context.close()
