"""A list too large to export in the request, in Chromium with JavaScript on and off: « Export Excel »
opens the export's progress page (a `download` link saved that page as an .html file instead), which
then offers the file."""

import re

import pytest

from app.settings import get_settings
from tests.browser.helpers import browser_login
from tests.factories import establishment, learners

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_a_large_list_export_shows_its_progress_then_downloads(browser, live_server, demo, run_jobs, javascript):
    await learners(await establishment(), get_settings().export_inline_max_rows + 1)
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR", accept_downloads=True)
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "admin")
        await page.goto(f"{live_server}/utilisateurs/")
        await page.get_by_role("link", name="Export Excel").click()
        await page.wait_for_url("**/taches/*")
        await run_jobs()
        link = page.get_by_role("link", name=re.compile(r"Télécharger .*\.xlsx"))
        await link.wait_for(timeout=30_000)
        async with page.expect_download() as info:
            await link.click()
        download = await info.value
        assert download.suggested_filename.endswith(".xlsx")
        with open(await download.path(), "rb") as f:
            assert f.read(2) == b"PK"
    finally:
        await context.close()


async def test_a_small_list_export_downloads_at_once_and_the_list_stays(browser, live_server, demo):
    context = await browser.new_context(locale="fr-FR", accept_downloads=True)
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "admin")
        await page.goto(f"{live_server}/admin/delegations")
        async with page.expect_download() as info:
            await page.get_by_role("link", name="Export Excel").click()
        assert (await info.value).suggested_filename.endswith(".xlsx")
        assert page.url.endswith("/admin/delegations")
    finally:
        await context.close()
