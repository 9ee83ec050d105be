"""Issue 20 point 22: the keyboard in the public wizard and the learner's pages, JavaScript on and
off. Enter in a field means « Étape suivante »; the step-3 live search keeps the field (its focus and
what is typed while it answers); focus goes to the new step's title, or stays on the control used,
and the page's live region says what changed."""


import pytest
from playwright.async_api import expect

from app.dates import today
from app.tables.accounts import RoleAssignment
from app.tables.catalogue import TrainingSession
from app.tables.learning import Enrolment
from app.tables.org import Establishment
from tests.factories import qvt_session
from tests.browser.helpers import browser_login, fill_identity, snap

pytestmark = pytest.mark.browser



@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_enter_goes_forward_in_the_wizard_and_focus_follows(browser, live_server, demo, javascript):
    await qvt_session()
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR",
                                        viewport={"width": 390, "height": 844})
    page = await context.new_page()
    title = page.locator(".step-count")
    try:
        await page.goto(live_server + "/inscription/26C03S1")
        await page.get_by_role("button", name="Étape suivante").click()
        await expect(title).to_have_text("Étape 2 sur 9 — Mode de financement")
        await expect(title).to_be_focused()
        # Enter on a radio: the next step (it went back to the start page).
        await page.get_by_label("Financement par ma collectivité").check()
        await page.get_by_label("Financement par ma collectivité").press("Enter")
        await expect(title).to_have_text("Étape 3 sur 9 — Établissement")
        await expect(title).to_be_focused()

        # The search field: Enter searches (it does not leave the step).
        search = page.get_by_label("Rechercher", exact=True)
        await search.fill("Mollans")
        await search.press("Enter")
        await expect(page.get_by_label("Mairie de Nyons")).to_have_count(0)
        await expect(title).to_have_text("Étape 3 sur 9 — Établissement")
        if javascript:
            # Typed, a pause (the live search answers), typed again: nothing lost, focus kept.
            await search.fill("")
            await search.press_sequentially("Nyo")
            await expect(page.get_by_label("Mairie de Nyons")).to_be_visible()
            await expect(page.locator("#live-region")).to_contain_text("collectivité(s) trouvée(s) pour « Nyo »")
            await page.keyboard.type("ns")
            await expect(search).to_have_value("Nyons")
            await expect(search).to_be_focused()
        else:
            await search.fill("Nyons")
            await search.press("Enter")
        await snap(page, f"i22-search-{'js' if javascript else 'nojs'}")
        await page.get_by_label("Mairie de Nyons").check()
        await page.get_by_label("Mairie de Nyons").press("Enter")
        await expect(title).to_have_text("Étape 4 sur 9 — Informations sur le stagiaire")

        # Enter in « Prénom » with a field missing: the same step, focus on the error summary.
        await fill_identity(page, postal_code="2611")  # too short: the server refuses it
        await page.get_by_label("Prénom").press("Enter")
        summary = page.get_by_role("alert").filter(has_text="Le formulaire contient")
        await expect(summary).to_be_focused()
        await expect(title).to_have_text("Étape 4 sur 9 — Informations sur le stagiaire")
        await page.get_by_label("Code postal").fill("26110")
        await page.get_by_label("Prénom").press("Enter")
        await expect(title).to_have_text("Étape 5 sur 9 — Mandat")
        await expect(title).to_be_focused()
    finally:
        await context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_learner_keeps_focus_on_the_button_used_and_hears_the_change(browser, live_server, demo, javascript):
    from app.demo import _load_session_in_progress

    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    learners = [r["user"] for r in await RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == "learner") & (RoleAssignment.establishment == alp001)).order_by(RoleAssignment.user)]
    await _load_session_in_progress(alp001, learners)
    session = await TrainingSession.select().where(TrainingSession.start_date <= today()).first()
    me = await Enrolment.select(Enrolment.user.username.as_alias("username")).where(
        (Enrolment.session == session["id"]) & (Enrolment.percent == 0)).order_by(Enrolment.user).first()
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR",
                                        viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    try:
        await browser_login(page, live_server, me["username"])
        await page.get_by_role("link", name=session["full_name"]).click()
        await page.get_by_role("link", name="Généralités").first.click()
        await page.get_by_role("button", name="J'ai terminé").press("Enter")
        undo = page.get_by_role("button", name="Marquer comme non terminée")
        await expect(undo).to_be_visible()
        if javascript:
            await expect(undo).to_be_focused()
            await expect(page.locator("#live-region")).to_have_text("Activité marquée terminée.")
            await undo.press("Enter")
            again = page.get_by_role("button", name="J'ai terminé")
            await expect(again).to_be_focused()
            await expect(page.locator("#live-region")).to_have_text("Activité marquée non terminée.")
        else:
            await expect(page.get_by_role("status").filter(has_text="Activité marquée terminée.")).to_be_visible()

        await page.get_by_role("link", name=session["full_name"]).click()
        await page.get_by_label("Votre message").fill("Bonjour à tous")
        await page.get_by_role("button", name="Envoyer").press("Enter")
        await expect(page.locator(".message .body").filter(has_text="Bonjour à tous")).to_be_visible()
        if javascript:
            await expect(page.get_by_role("button", name="Envoyer")).to_be_focused()
            await expect(page.locator("#live-region")).to_have_text("Message publié.")
    finally:
        await context.close()
