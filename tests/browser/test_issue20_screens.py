"""Issue 20 in Chromium, with and without JavaScript: « BI signé » while the BI never left (point 4),
the draft resumed on another device (6), a cohort still in use (15), the two-list selector's
e-mail and matricule (20), the analytics « Public » filter (3)."""

import re

import pytest
from playwright.async_api import expect

from app import db
from app.services import outbox
from app.services.registration import BI_CATEGORY, request_key
from app.tables.catalogue import CohortSync
from app.tables.cohorts import Cohort
from app.tables.org import Establishment
from app.tables.registration import Organisation, RegistrationRequest
from tests.factories import qvt_session
from tests.browser.helpers import browser_login, fill_identity, snap, walk_registration
from tests.controllers.test_two_lists_identity import three_martins

pytestmark = pytest.mark.browser
JS = pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])



@JS
async def test_bi_signed_while_the_bulletin_never_left_is_asked_first(browser, live_server, demo, javascript):
    session_id = await qvt_session()
    mollans = await Organisation.select(Organisation.id).where(Organisation.referenced == False).first()  # noqa: E712
    row = await RegistrationRequest.insert(RegistrationRequest(
        reference="R26-HELD01", status="confirmed", session=session_id, organisation=mollans["id"], civility="Mme",
        first_name="Fanny", last_name="Lévêque-Sauvan", email="fanny@example.org", postal_code="26170",
        phone="06 12 34 56 78")).returning(RegistrationRequest.id)
    request_id = row[0]["id"]
    async with db.transaction():
        await outbox.queue_mail(["mairie@mollans.example.org"], "Bulletin d'inscription R26-HELD01 à valider", "BI",
                                category=BI_CATEGORY, group_key=request_key(request_id), held=True)
    tag = "js" if javascript else "nojs"
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR")
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "inscriptions")
        await page.goto(f"{live_server}/gestion-inscriptions/demandes/{request_id}")
        # Point 19: the postcode and the phone apart.
        await expect(page.locator("dd", has_text="06 12 34 56 78")).to_have_text("06 12 34 56 78")
        await page.get_by_role("link", name="6. Validation instance (BI signé)").click()
        await page.get_by_role("heading", name="Confirmation").wait_for()
        await expect(page.get_by_text("n'est jamais parti vers l'instance de validation")).to_be_visible()
        await snap(page, f"issue20-bi-never-sent-{tag}")
        await page.get_by_role("button", name="Confirmer : BI signé reçu, bulletin jamais parti").click()
        await page.wait_for_url(re.compile(r".*/gestion-inscriptions/demandes/\d+$"))
        await expect(page.get_by_role("heading", level=1)).to_contain_text("Validée par l'instance (BI signé)")
        await expect(page.get_by_text("BI jamais parti par la plateforme").first).to_be_visible()
    finally:
        await context.close()


@JS
async def test_a_draft_started_on_a_phone_is_finished_on_a_pc(browser, live_server, demo, smtp, run_jobs, javascript):
    await qvt_session()
    phone_context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR",
                                              viewport={"width": 390, "height": 800})
    phone = await phone_context.new_page()
    try:
        await phone.goto(live_server + "/inscription/26C03S1")
        await walk_registration(phone, through=3)
        await expect(phone.get_by_role("button", name="Recevoir un lien pour reprendre")).to_have_count(0)
        await fill_identity(phone)
        await phone.get_by_role("button", name="Étape suivante").click()
        await phone.get_by_role("button", name="Recevoir un lien pour reprendre").click()
        await expect(phone.get_by_text("Un lien pour reprendre votre demande vient d'être envoyé")).to_be_visible()
        await snap(phone, f"issue20-resume-asked-{'js' if javascript else 'nojs'}")
    finally:
        await phone_context.close()
    await run_jobs()
    mail = next(m for _, m in smtp.messages if m["Subject"] == "Reprendre votre demande d'inscription")
    body = mail.get_payload(decode=True).decode()
    link = re.search(r"http://\S+/inscription/reprendre/\S+", body).group(0)
    pc_context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR")
    pc = await pc_context.new_page()
    try:
        await pc.goto(live_server + "/inscription/" + link.split("/inscription/", 1)[1])
        await pc.get_by_role("button", name="Reprendre ma demande ici").click()
        await pc.wait_for_url("**/inscription/etape/5")
        await expect(pc.get_by_label("Maire", exact=True)).to_be_visible()
        await pc.get_by_role("button", name="Étape précédente").click()
        await expect(pc.get_by_label("Prénom")).to_have_value("Zoé")
    finally:
        await pc_context.close()


@JS
async def test_a_cohort_still_synced_explains_and_links_its_sessions(browser, live_server, demo, javascript):
    session_id = await qvt_session()
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    cohort = await Cohort.select().where(Cohort.establishment == alp001).first()
    await CohortSync.insert(CohortSync(session=session_id, cohort=cohort["id"]))
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR")
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "alp001.get")
        await page.goto(f"{live_server}/etablissements/{alp001}/cohortes")
        await page.get_by_role("row", name=re.compile(cohort["name"])).get_by_role("link", name="Supprimer").click()
        await expect(page.get_by_role("heading", name=re.compile("ne peut pas être supprimée"))).to_be_visible()
        await expect(page.get_by_text("Retour à l'accueil")).to_have_count(0)
        await snap(page, f"issue20-cohort-in-use-{'js' if javascript else 'nojs'}")
        await page.get_by_role("link", name="Participants de « Session du QVT »").click()
        await page.wait_for_url(f"**/sessions/{session_id}/participants")
    finally:
        await context.close()


@JS
async def test_the_two_lists_show_email_and_matricule(browser, live_server, demo, javascript):
    _, session_id, _ = await three_martins()
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR")
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "alp001.get")
        await page.goto(f"{live_server}/sessions/{session_id}/inscriptions")
        potential = page.locator("#add")
        await expect(potential.locator("option", has_text="julien.martin@chu.example.org · matricule 000522")).to_have_count(1)
        await page.get_by_label("Rechercher (droite)").fill("000633")
        if not javascript:
            await page.get_by_role("button", name="Rechercher").click()
        await expect(potential.locator("option")).to_have_count(1)
        await expect(potential.locator("option")).to_have_text("Jules Martin (alp001.j.martin3) · matricule 000633")
        await snap(page, f"issue20-two-lists-{'js' if javascript else 'nojs'}")
    finally:
        await context.close()


@JS
async def test_analytics_has_the_public_filter_agents_externes(browser, live_server, demo, javascript):
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR")
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "alp001.get")
        await page.goto(f"{live_server}/analytique")
        await page.get_by_label("Public").select_option(label="Externes")
        await page.get_by_role("button", name="Filtrer").click()
        await page.wait_for_url(re.compile(r".*audience=external.*"))
        await expect(page.get_by_label("Public")).to_have_value("external")
    finally:
        await context.close()
