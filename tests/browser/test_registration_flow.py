"""SPEC F1-F3 in Chromium: the public wizard, the confirmation mail read from the SMTP server, the
mails with the BI (checked with pypdf), the back office's steps 6-10, then the learner logs in with
the mailed credentials and sees the session."""

import io
import re

import pytest
from playwright.async_api import expect
from pypdf import PdfReader

from tests.factories import qvt_session
from tests.browser.helpers import browser_login, first_login, snap, walk_registration

pytestmark = pytest.mark.browser


def _body(message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_public_registration_to_the_learner_space(browser, live_server, demo, smtp, run_jobs, javascript):
    await qvt_session()
    tag = "js" if javascript else "nojs"
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR", viewport={"width": 390, "height": 800})
    page = await context.new_page()
    try:
        await page.goto(live_server + "/inscription/26C03S1")
        await expect(page.get_by_role("heading", name="Qualité de vie au travail (QVT)")).to_be_visible()
        await walk_registration(page, through=6)
        await expect(page.get_by_text("Avez-vous des handicaps")).to_be_visible()
        await page.get_by_role("button", name="Étape suivante").click()
        for group in ("covoiturage", "offre de formation", "utiliser mon image"):
            await page.get_by_role("group", name=re.compile(group)).get_by_label("Oui").check()
        await page.get_by_role("button", name="Étape suivante").click()
        await page.get_by_label("J'ai lu et j'accepte les conditions générales.").check()
        await snap(page, f"registration-cgv-{tag}")
        await page.get_by_role("button", name="Envoyer ma demande d'inscription").click()
        await page.get_by_role("heading", name="Demande envoyée").wait_for()

        await run_jobs()
        confirm = next(_body(m) for _, m in smtp.messages if "Confirmez" in m["Subject"])
        link = re.search(r"http://\S+/inscription/confirmer/\S+", confirm).group(0)
        # The mail's link points to BASE_URL; the live server listens elsewhere: same path.
        await page.goto(live_server + "/inscription/" + link.split("/inscription/", 1)[1])
        await expect(page.get_by_role("heading", name="Adresse confirmée")).to_be_visible()
        await run_jobs()
        bi = next(m for _, m in smtp.messages if m["Subject"].startswith("Bulletin d'inscription"))
        pdf = next(p for p in bi.walk() if p.get_content_type() == "application/pdf").get_payload(decode=True)
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
        assert "Lemaître" in text and "Mairie de Nyons" in text and "Maire" in text
    finally:
        await context.close()

    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR")
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "inscriptions")
        await page.get_by_role("link", name="Inscriptions locales", exact=True).click()
        await page.get_by_role("link", name="Demandes d'inscription").click()
        await page.get_by_role("link", name="Traiter").first.click()
        await page.get_by_role("button", name="6. Validation instance (BI signé)").click()
        await page.get_by_role("button", name="6. Validation instance (BI signé)").wait_for(state="detached")
        # Steps 8 and 10 (an account mailed, the final enrolment) are confirmed on a page of their own.
        for label in ("8. Validation opérateur", "10. Validation demandeur"):
            await page.get_by_role("link", name=label).click()
            await page.get_by_role("heading", name="Confirmation").wait_for()
            await snap(page, f"registration-confirm-step-{label[:2].strip('. ')}-{tag}")
            await page.get_by_role("button", name=label).click()
            await page.wait_for_url(re.compile(r".*/gestion-inscriptions/demandes/\d+$"))
        await expect(page.get_by_text("Inscription définitive").first).to_be_visible()
        await snap(page, f"registration-backoffice-{tag}")
    finally:
        await context.close()

    await run_jobs()
    credentials = next(_body(m) for _, m in smtp.messages if m["Subject"] == "Vos identifiants pour votre inscription")
    username = re.search(r"Nom d'utilisateur : (\S+)", credentials).group(1)
    password = re.search(r"Mot de passe : (\S+)", credentials).group(1)
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR")
    page = await context.new_page()
    try:
        await first_login(page, live_server, username, password, "Zoé-2026-Élue")
        await expect(page.get_by_text("Session du QVT")).to_be_visible()
    finally:
        await context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_wizard_login_back_and_cancel_with_a_confirmation(browser, live_server, demo, javascript):
    """Issue 9: "J'ai déjà un compte" brings the requester back to the wizard with their details,
    step 2 goes back to step 1 without losing anything, and "Annuler" asks first."""
    await qvt_session()
    tag = "js" if javascript else "nojs"
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR", viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    try:
        await page.goto(live_server + "/inscription/26C03S1")
        await page.get_by_label("J'ai déjà un compte. Je me connecte et je continue ma demande.").check()
        await page.get_by_role("button", name="Étape suivante").click()
        await page.get_by_label("Nom d'utilisateur").fill("alp001.get")
        await page.get_by_label("Mot de passe").fill("Demo-2026!")
        await page.get_by_role("button", name="Connexion").click()
        await page.wait_for_url("**/inscription/etape/2")
        await page.get_by_label("Financement par ma collectivité").check()
        await snap(page, f"h4-step2-{tag}")
        await page.get_by_role("button", name="Étape précédente").click()
        await page.wait_for_url("**/inscription/26C03S1")
        assert await page.get_by_label(re.compile("Reprendre ma demande en cours")).is_checked()
        await snap(page, f"h4-step1-resume-{tag}")
        await page.get_by_role("button", name="Étape suivante").click()
        await page.get_by_label("Financement par ma collectivité").check()
        await page.get_by_role("button", name="Étape suivante").click()
        await page.get_by_label("Mairie de Nyons").check()
        await page.get_by_role("button", name="Étape suivante").click()
        # Step 4, prefilled from the account, the confirmation of the address too.
        await expect(page.get_by_label("Prénom")).to_have_value("Emma")
        await expect(page.get_by_label("Confirmer votre courriel")).to_have_value("alp001.get@demo.tremplin.local")
        await snap(page, f"h4-step4-prefilled-{tag}")
        await page.get_by_role("button", name="Annuler").click()
        await page.get_by_role("heading", name="Confirmation").wait_for()
        await expect(page.get_by_text("Abandonner votre demande d'inscription en cours ?")).to_be_visible()
        await snap(page, f"h4-cancel-confirm-{tag}")
        await page.get_by_role("link", name="Non, revenir à ma demande").click()
        await page.get_by_text("Informations sur le stagiaire").first.wait_for()
        await page.get_by_role("button", name="Annuler").click()
        await page.get_by_role("button", name="Abandonner ma demande").click()
        await page.get_by_text("Votre demande a été annulée.").wait_for()
        assert not await page.get_by_label(re.compile("Reprendre ma demande en cours")).count()
    finally:
        await context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_organisation_search_close_match_and_merge(browser, live_server, demo, javascript):
    """Issue 9: step 3 finds the organisation a requester typed before (waiting for review, marked),
    whatever the accents; typing it again offers it; a manager merges two duplicates."""
    await qvt_session()
    tag = "js" if javascript else "nojs"
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR", viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    try:
        await page.goto(live_server + "/inscription/26C03S1")
        await page.get_by_role("button", name="Étape suivante").click()
        await page.get_by_label("Financement par ma collectivité").check()
        await page.get_by_role("button", name="Étape suivante").click()
        await page.get_by_label("Rechercher", exact=True).fill("MOLLANS SUR OUVEZE")
        if not javascript:
            await page.get_by_role("button", name="Rechercher").click()
        # Only the match is left (with JavaScript, once the live search has answered).
        await page.get_by_label("Mairie de Nyons").wait_for(state="detached")
        choice = page.get_by_label(re.compile(r"Mairie de Mollans-sur-Ouvèze .*\(en attente de vérification\)"))
        await expect(choice).to_be_visible()
        await snap(page, f"i9-org-search-{tag}")
        # Typed again by hand: the existing one is offered, and taken.
        await page.get_by_text("Je n'ai pas trouvé ma collectivité").click()
        await page.get_by_label("Je renseigne ma collectivité").check()
        await page.get_by_label("Nom de la collectivité ou de l'établissement").fill("mairie de mollans sur ouvèze")
        await page.get_by_label("Code postal").fill("26170")
        await page.get_by_role("button", name="Étape suivante").click()
        offer = page.get_by_role("button", name="Oui, c'est ma collectivité : Mairie de Mollans-sur-Ouvèze")
        await offer.wait_for()
        await snap(page, f"i9-org-close-match-{tag}")
        await offer.click()
        await page.get_by_role("heading", name="Informations sur le stagiaire").wait_for()
    finally:
        await context.close()

    # A duplicate, then the merge by the registration manager.
    from app.tables.registration import Organisation

    from app.tables.registration import RegistrationRequest

    row = await Organisation.insert(Organisation(name="Mairie de Mollans sur Ouveze", postal_code="26170",
                                                 referenced=False)).returning(Organisation.id)
    # The draft above points at the duplicate: the merge moves it back.
    await RegistrationRequest.update({RegistrationRequest.organisation: row[0]["id"]}).where(
        RegistrationRequest.status == "draft")
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR", viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "inscriptions")
        await page.goto(live_server + "/gestion-inscriptions/etablissements")
        row = page.get_by_role("row").filter(has_text="Mairie de Mollans-sur-Ouvèze")
        await row.get_by_role("link", name="Fusionner").click()
        await page.get_by_label("Mairie de Mollans sur Ouveze").check()
        await snap(page, f"i9-merge-choose-{tag}")
        await page.get_by_role("button", name="Fusionner les doublons cochés…").click()
        await page.get_by_text("1 demande(s) d'inscription passeront sur").wait_for()
        await snap(page, f"i9-merge-confirm-{tag}")
        await page.get_by_role("button", name="Fusionner", exact=True).click()
        await page.get_by_text("1 doublon(s) fusionné(s) dans « Mairie de Mollans-sur-Ouvèze » : 1 demande(s) déplacée(s).").wait_for()
        await expect(page.get_by_role("row").filter(has_text="Mairie de Mollans sur Ouveze")).to_have_count(0)
    finally:
        await context.close()
