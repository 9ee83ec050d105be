"""The Back button after htmx swaps shows a whole page, never a bare table fragment.

htmx keeps no history cache here (historyCacheSize 0: nothing of a manager's lists is left in the
browser's storage on a shared office PC), so every Back within a page asks the server again with
`HX-Request` and `HX-History-Restore-Request`: the server must answer with the whole page."""

import pytest
from playwright.async_api import expect

from tests.browser.helpers import browser_login

pytestmark = pytest.mark.browser


async def test_back_after_htmx_swaps_shows_the_whole_page(browser, live_server, demo):
    context = await browser.new_context(locale="fr-FR")
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "admin")
        await page.goto(live_server + "/utilisateurs")
        await page.get_by_role("heading", name="Gérer mes utilisateurs").wait_for()
        # Two swaps, each pushing its URL: the next page, then the one after.
        await page.get_by_role("link", name="Page suivante").first.click()
        await page.wait_for_url("**page=2**")
        await page.get_by_role("link", name="Page suivante").first.click()
        await page.wait_for_url("**page=3**")
        # The swaps replaced the table only: the page around it is still there.
        await expect(page.get_by_role("heading", name="Gérer mes utilisateurs")).to_be_visible()

        await page.go_back()
        await page.wait_for_url("**page=2**")
        await page.wait_for_load_state("networkidle")
        await expect(page.get_by_role("heading", name="Gérer mes utilisateurs")).to_be_visible()
        await expect(page.get_by_role("navigation", name="Navigation principale")).to_be_visible()
        await expect(page.locator("table")).to_have_count(1)
        await expect(page.locator("header.top")).to_have_count(1)  # not nested, not missing
    finally:
        await context.close()
