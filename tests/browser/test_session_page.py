"""Issue 20 point 12: the manager's session page — its actions grouped by what they are about, each
activity a link to what learners see of it, the « Discuter » block a link (JS on and off)."""

import pytest
from playwright.async_api import expect

from app.tables.accounts import RoleAssignment
from app.tables.catalogue import SessionActivity, TrainingSession
from app.tables.org import Establishment
from tests.browser.helpers import browser_login, snap

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_session_page_groups_actions_and_previews_activities(browser, live_server, demo, javascript):
    from app.demo import _load_session_in_progress

    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    learners = [r["user"] for r in await RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == "learner") & (RoleAssignment.establishment == alp001))]
    await _load_session_in_progress(alp001, learners)
    session = await TrainingSession.select().where(TrainingSession.establishment == alp001).first()
    await SessionActivity.update({SessionActivity.content: "<p>Bienvenue dans la <strong>formation</strong>.</p>"}).where(
        (SessionActivity.session == session["id"]) & (SessionActivity.title == "Généralités"))
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR",
                                        viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "alp001.get")
        await page.goto(f"{live_server}/sessions/{session['id']}/")
        actions = page.get_by_role("navigation", name="Actions de la session")
        groups = {"Contenu": 2, "Inscrits": 4, "Jours de formation": 5, "Session": 1}
        for name, count in groups.items():
            await expect(actions.get_by_role("group", name=name).get_by_role("link")).to_have_count(count)
        await expect(page.get_by_role("group", name="Jours de formation").get_by_role("link", name="Présences")).to_be_visible()
        await snap(page, f"i12-session-{'js' if javascript else 'nojs'}")

        # An activity opens what a learner sees of it.
        await page.get_by_role("link", name="Généralités").click()
        await expect(page.get_by_role("heading", name="Généralités")).to_be_visible()
        await expect(page.get_by_text("Bienvenue dans la formation.")).to_be_visible()
        await expect(page.get_by_text("Aperçu : l'activité telle que les apprenants la voient")).to_be_visible()
        await page.go_back()
        await page.get_by_role("link", name="Quiz final").click()
        await expect(page.get_by_role("radio", name="Tous les deux ans ✔ bonne réponse")).to_be_disabled()

        # « Discuter » leads to the discussion.
        await page.go_back()
        await page.get_by_role("link", name="Lire et répondre aux messages des inscrits").click()
        await expect(page.get_by_role("heading", name="Discussion de la session")).to_be_visible()
    finally:
        await context.close()
