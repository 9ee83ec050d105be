"""The accessibility footer, declaration and report form in Chromium with JavaScript off (issue 25):
a visitor follows the footer's statement, reads the declaration, opens the report form, is told in
French what is missing, then sends it: the operator's mail waits in the outbox."""

import pytest
from playwright.async_api import expect

from app.tables.outbox import Mail

pytestmark = pytest.mark.browser


async def test_a_visitor_reports_a_problem_without_javascript(browser, live_server, demo):
    context = await browser.new_context(java_script_enabled=False, locale="fr-FR")
    page = await context.new_page()
    try:
        await page.goto(f"{live_server}/connexion")
        await page.get_by_role("contentinfo").get_by_role("link", name="Accessibilité : partiellement conforme").click()
        await expect(page.get_by_role("heading", name="Déclaration d'accessibilité", level=1)).to_be_visible()
        await expect(page.get_by_role("heading", name="Voies de recours")).to_be_visible()
        await page.get_by_role("main").get_by_role("link", name="Signaler un problème d'accessibilité").click()
        await page.get_by_label("Votre adresse de courriel (facultatif, pour vous répondre)").fill("usager@example.org")
        await page.get_by_role("button", name="Envoyer le signalement").click()
        await expect(page.get_by_text("Décrivez le problème rencontré.")).to_be_visible()
        await expect(page.get_by_role("alert")).to_contain_text("Le formulaire contient 1 erreur(s)")
        await expect(page.get_by_label("Votre adresse de courriel (facultatif, pour vous répondre)")).to_have_value(
            "usager@example.org")
        await page.get_by_label("Description du problème").fill("Le graphique de l'analytique n'a pas de texte lisible.")
        await page.get_by_role("button", name="Envoyer le signalement").click()
        await expect(page.get_by_text("votre signalement a été transmis")).to_be_visible()
        assert page.url.endswith("/accessibilite")
    finally:
        await context.close()
    mail = await Mail.select(Mail.body_text).where(Mail.category == "accessibility").first()
    assert "n'a pas de texte lisible" in mail["body_text"] and "usager@example.org" in mail["body_text"]
