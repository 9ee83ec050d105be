"""Issue 23 in Chromium, JavaScript on and off: a manager flags the session's final quiz as the
« Évaluation des acquis (sortie) » in the activity editor, then opens « Positionnement et acquis » from
the progress overview and reads entry vs exit per objective and per learner."""

import pytest
from playwright.async_api import expect

from app.tables.catalogue import SessionActivity
from tests.browser.helpers import browser_login, snap
from tests.services.test_assessments import assessed_session

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_a_manager_flags_the_exit_quiz_and_reads_positionnement_et_acquis(browser, live_server, demo, javascript):
    data = await assessed_session()
    await SessionActivity.update({SessionActivity.assessment: ""}).where(SessionActivity.id == data.exit)
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR")
    page = await context.new_page()
    tag = "js" if javascript else "nojs"
    try:
        await browser_login(page, live_server, "alp001.get")
        await page.goto(f"{live_server}/sessions/{data.session}/contenu/{data.exit}")
        await page.get_by_label("Évaluation", exact=True).select_option(label="Évaluation des acquis (sortie)")
        await page.get_by_role("button", name="Enregistrer").click()
        await page.wait_for_url(f"**/sessions/{data.session}/contenu*")
        assert (await SessionActivity.select(SessionActivity.assessment).where(
            SessionActivity.id == data.exit).first())["assessment"] == "exit"

        await page.goto(f"{live_server}/sessions/{data.session}/progression")
        await page.get_by_role("link", name="Positionnement et acquis").click()
        await expect(page.get_by_role("heading", name="Positionnement et acquis", level=1)).to_be_visible()
        row = page.get_by_role("row", name="2. Savoir alerter")
        await expect(row).to_contain_text("0 % (2 apprenants)")
        await expect(row).to_contain_text("75 % (2 apprenants)")
        await expect(row).to_contain_text("2 sur 2")
        await expect(page.get_by_text("✓ atteint").first).to_be_visible()
        await snap(page, f"assessments-{tag}")
    finally:
        await context.close()
