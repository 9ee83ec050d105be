"""Issue 22 in Chromium, JavaScript on and off: a manager opens « Formateurs » from the session page,
creates an external trainer (ext. username, credentials mailed), gives them the first slot, and the
session page names them on that slot."""

import pytest
from playwright.async_api import expect

from app.tables.accounts import User
from app.tables.catalogue import SessionSlot
from app.tables.evidence import SlotTrainer
from app.tables.org import Establishment
from tests import factories
from tests.browser.helpers import browser_login, snap

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_a_manager_adds_an_external_trainer_and_gives_them_a_slot(browser, live_server, demo, javascript):
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    session = await factories.session_with_learners(alp001, learners_count=1, slots=2)
    first, _ = [r["id"] for r in await SessionSlot.select(SessionSlot.id).where(
        SessionSlot.session == session.id).order_by(SessionSlot.day).order_by(SessionSlot.starts)]
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR",
                                        viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "alp001.get")
        await page.goto(f"{live_server}/sessions/{session.id}")
        await page.get_by_role("link", name="Formateurs (0)").click()
        await expect(page.get_by_role("heading", name="Formateurs de la session")).to_be_visible()

        create = page.locator("#create-trainer")
        await create.get_by_label("Prénom").fill("Claire")
        await create.get_by_label("Nom de famille").fill("Martin")
        await create.get_by_label("Adresse de courriel").fill("claire.martin@example.org")
        await create.get_by_role("button", name="Créer et ajouter comme formateur").click()
        await expect(page.get_by_text("Compte externe ext.c.martin créé pour Claire Martin")).to_be_visible()
        await expect(page.get_by_role("cell", name="ext.c.martin", exact=True)).to_be_visible()
        person = await User.select(User.id, User.external).where(User.username == "ext.c.martin").first()
        assert person["external"] is True

        table = page.locator("#assign-slots")
        boxes = table.get_by_role("checkbox")
        await expect(boxes).to_have_count(2)
        await boxes.first.check()
        await snap(page, f"i22-trainers-{'js' if javascript else 'nojs'}")
        await table.get_by_role("button", name="Enregistrer les formateurs des créneaux").click()
        await expect(page.get_by_text("Formateurs des créneaux enregistrés.")).to_be_visible()
        rows = page.locator("#assign-slots tbody tr")
        await expect(rows.nth(0).get_by_role("cell").last).to_have_text("Claire Martin")
        await expect(rows.nth(1).get_by_role("cell").last).to_have_text("tous les formateurs")
        await expect(rows.nth(0).get_by_role("checkbox")).to_be_checked()
        assert [(r["slot"], r["user"]) for r in await SlotTrainer.select()] == [(first, person["id"])]

        await page.locator(".crumbs a").first.click()  # back to the session page
        await expect(page.get_by_text("(Formateur(s) : Claire Martin)").first).to_be_visible()
        await expect(page.get_by_role("link", name="Formateurs (1)")).to_be_visible()
    finally:
        await context.close()
