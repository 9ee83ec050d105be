"""SPEC B2-B3, C2-C3 in Chromium: create a session, walk the six-step import wizard, fill a cohort
with the two-list selector and sync it to the session."""

import pytest
from playwright.async_api import expect

from app.tables.catalogue import SessionActivity, TrainingSession
from app.tables.learning import Enrolment, EnrolmentSource

from tests.browser.helpers import browser_login, snap

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_session_wizard_and_cohort_sync(browser, live_server, demo, run_jobs, javascript):
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR")
    page = await context.new_page()
    tag = "js" if javascript else "nojs"
    try:
        await browser_login(page, live_server, "alp001.get")
        await page.get_by_role("link", name="Sessions").first.click()
        await page.get_by_role("link", name="Créer une session de formation").click()
        await page.get_by_label("Formation du catalogue").select_option(label="Qualité de vie au travail (QVT)")
        await page.get_by_label("Date de début").fill("2026-06-12")
        await page.get_by_label("Date de fin").fill("2026-06-16")
        await page.get_by_role("button", name="Proposer le nom").click()
        await expect(page.get_by_label("Nom complet")).to_have_value(
            "Session du 12-06-2026 au 16-06-2026_Qualité de vie au travail (QVT)")
        await page.get_by_role("button", name="Enregistrer et afficher").click()
        await page.wait_for_url("**/sessions/*")
        await page.get_by_role("link", name="Importer du contenu").click()

        # 1. Sélection du contenu
        await page.get_by_label("Qualité de vie au travail (QVT)_C4_Inscription institutionnelle").check()
        await page.get_by_role("button", name="Continuer").click()
        # 2. Réglages initiaux
        await page.get_by_text("2. Réglages initiaux").wait_for()
        await page.get_by_label("Inclure les badges").check()
        await page.get_by_role("button", name="Continuer").click()
        # 3. Réglages du schéma: leave "Réengagement" out.
        await page.get_by_label("Réengagement").uncheck()
        await page.get_by_role("button", name="Continuer").click()
        # 4. Confirmation et relecture, then back once: the choices are kept.
        await page.get_by_role("heading", name="Confirmation et relecture").wait_for()
        await page.get_by_role("button", name="Étape précédente").click()
        assert not await page.get_by_label("Réengagement").is_checked()
        await page.get_by_role("button", name="Continuer").click()
        await snap(page, f"wizard-review-{tag}")
        await page.get_by_role("button", name="Effectuer l'importation").click()
        # 5. the job (once it is queued: with htmx the click returns before the request ends), 6. done
        await page.wait_for_url("**/import?step=5")
        await run_jobs()
        if javascript:
            await page.get_by_role("link", name="Continuer").click()
            await page.get_by_text("Importation terminée. Cliquez sur continuer pour revenir au contenu.").wait_for()
        else:
            await page.reload()
        await page.get_by_text("Importation terminée. Cliquez sur continuer pour revenir au contenu.").wait_for()
        await snap(page, f"wizard-done-{tag}")
        await page.get_by_role("link", name="Continuer").click()
        await expect(page.get_by_text("Attestation de suivi de formation")).to_be_visible()
        session = await TrainingSession.select().first()
        titles = {a["title"] for a in await SessionActivity.select(SessionActivity.title)}
        assert "Réengagement" not in titles and "Qualité de vie au travail (QVT)" in titles

        # The cohort: add three members with the two lists, then sync it to the session.
        await page.goto(f"{live_server}/etablissements/{session['establishment']}/cohortes")
        await page.get_by_role("link", name="Membres").click()
        options = page.locator("#add option")
        values = [await options.nth(i).get_attribute("value") for i in range(3)]
        await page.locator("#add").select_option(values)
        await page.get_by_role("button", name="◄ Ajouter").click()
        await page.get_by_text("3 membre(s) ajouté(s).").wait_for()
        await expect(page.locator("#remove option")).to_have_count(3)
        await expect(page.get_by_text("Utilisateurs actuels (3)")).to_be_visible()
        await snap(page, f"cohort-members-{tag}")
        await page.goto(f"{live_server}/sessions/{session['id']}/participants")
        await page.get_by_label("Ajouter méthode : Synchronisation des cohortes — Cohorte").select_option(label="Cohorte_Ex25")
        await page.get_by_role("button", name="Ajouter méthode").click()
        await page.get_by_text("Méthode « Synchronisation des cohortes » ajoutée").wait_for()
        await run_jobs()
        await page.reload()
        await expect(page.get_by_text("1–3 sur 3")).to_be_visible()
        await expect(page.get_by_role("cell", name="Cohorte Cohorte_Ex25").first).to_be_visible()
        await snap(page, f"participants-{tag}")
        assert await EnrolmentSource.count().where(
            (EnrolmentSource.enrolment.session == session["id"]) & (EnrolmentSource.kind == "cohort")) == 3
    finally:
        await context.close()
