"""Chromium (Playwright) against `tremplin serve` in its own process: what a person would do."""

import re

import pytest
from playwright.async_api import expect

from app.tables.accounts import User

from tests.browser.helpers import browser_login, snap

pytestmark = pytest.mark.browser


async def _forced_change_flow(page, live_server):
    await page.goto(live_server + "/")
    await expect(page).to_have_url(re.compile("/connexion"))
    await page.get_by_label("Nom d'utilisateur").fill("alp001.get")
    await page.get_by_label("Mot de passe").fill("Demo-2026!")
    await page.get_by_role("button", name="Connexion").click()
    await page.wait_for_url("**/mot-de-passe")
    await expect(page.get_by_text("Vous devez changer votre mot de passe avant de continuer.")).to_be_visible()
    # A weak password is refused with the policy's words next to the field.
    await page.get_by_label("Mot de passe actuel").fill("Demo-2026!")
    await page.get_by_label("Nouveau mot de passe", exact=True).fill("faible")
    await page.get_by_label("Nouveau mot de passe (encore)").fill("faible")
    await page.get_by_role("button", name="Enregistrer").click()
    await expect(page.get_by_text("au moins 1 majuscule").first).to_be_visible()
    await page.get_by_label("Mot de passe actuel").fill("Demo-2026!")
    await page.get_by_label("Nouveau mot de passe", exact=True).fill("Tremplin-2027")
    await page.get_by_label("Nouveau mot de passe (encore)").fill("Tremplin-2027")
    await page.get_by_role("button", name="Enregistrer").click()
    await page.wait_for_url(live_server + "/")
    await expect(page.get_by_text("Votre mot de passe a été modifié.")).to_be_visible()
    await expect(page.get_by_role("heading", name="Bonjour Emma")).to_be_visible()
    await expect(page.get_by_role("link", name="CH BUIS LES BARONNIES")).to_be_visible()
    await snap(page, "home")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_login_forced_password_change_then_home(browser, live_server, demo, javascript):
    await User.update({User.force_password_change: True}).where(User.username == "alp001.get")
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR")
    page = await context.new_page()
    try:
        await _forced_change_flow(page, live_server)
    finally:
        await context.close()


async def test_table_filters_and_pages_without_reload(browser, live_server, demo):
    context = await browser.new_context(locale="fr-FR")
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "admin")
        await page.get_by_role("link", name="Établissements").click()
        await page.wait_for_url("**/admin/etablissements")
        await page.evaluate("window.__marker = 'same page'")
        await page.get_by_label("Code ou nom").fill("baronnies")
        await page.wait_for_url("**q=baronnies**")
        await page.wait_for_selector("text=1–1 sur 1")
        assert await page.evaluate("window.__marker") == "same page"  # htmx swapped, no reload
        rows = await page.locator("#table-region tbody tr").count()
        assert rows == 1
        await snap(page, "table")
    finally:
        await context.close()


async def test_admin_screens_work_without_javascript(browser, live_server, demo):
    context = await browser.new_context(java_script_enabled=False, locale="fr-FR")
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "admin")
        # Filter with the button, sort with the header link.
        await page.goto(live_server + "/admin/etablissements")
        await page.get_by_label("Code ou nom").fill("ehpad")
        await page.get_by_role("button", name="Filtrer").click()
        await page.wait_for_url("**q=ehpad**")
        await expect(page.locator("#table-region tbody tr")).to_have_count(2)
        await page.get_by_role("link", name="Code").click()
        await page.wait_for_url("**sort=-code**")
        first = await page.locator("#table-region tbody tr").first.inner_text()
        assert "DAM016" in first
        # Create a delegation, then delete it through the confirmation page.
        await page.goto(live_server + "/admin/delegations")
        await page.get_by_role("link", name="Ajouter une délégation").click()
        await page.get_by_label("Code").fill("NOR")
        await page.get_by_label("Nom").fill("NORMANDIE")
        await page.get_by_role("button", name="Enregistrer").click()
        await page.wait_for_url("**/admin/delegations")
        await expect(page.get_by_text("Délégation enregistrée.")).to_be_visible()
        row = page.locator("#table-region tbody tr", has_text="NORMANDIE")
        await row.get_by_role("link", name="Supprimer").click()
        await expect(page.get_by_text("Supprimer la délégation NOR — NORMANDIE ?")).to_be_visible()
        await page.get_by_role("button", name="Supprimer").click()
        await page.wait_for_url("**/admin/delegations")
        await expect(page.get_by_text("Délégation supprimée.")).to_be_visible()
        await snap(page, "nojs-delegations")
    finally:
        await context.close()
