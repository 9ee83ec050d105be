"""Issue 20 point 22: the keyboard in the public wizard and the learner's pages, JavaScript on and
off. Enter in a field means « Étape suivante »; the step-3 live search keeps the field (its focus and
what is typed while it answers); focus goes to the new step's title, or stays on the control used,
and the page's live region says what changed.

Issue 25: the main flows by the keyboard alone (log in, import accounts, a learner completes
an activity, the whole wizard): each stop of the focus visible, in the page's order, no trap, the skip
link first on every page, errors announced (role=alert) or the focus moved to the error summary."""


import re

import pytest
from playwright.async_api import expect

from app.dates import today
from app.tables.accounts import RoleAssignment
from app.tables.catalogue import TrainingSession
from app.tables.learning import Enrolment
from app.tables.org import Establishment
from tests.browser.test_import_wizard import CSV
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


async def _learner_in_progress() -> tuple[dict, dict]:
    """The demo's session in progress, loaded, and one of its learners who has done nothing yet."""
    from app.demo import _load_session_in_progress

    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    learners = [r["user"] for r in await RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == "learner") & (RoleAssignment.establishment == alp001)).order_by(RoleAssignment.user)]
    await _load_session_in_progress(alp001, learners)
    session = await TrainingSession.select().where(TrainingSession.start_date <= today()).first()
    me = await Enrolment.select(Enrolment.user.username.as_alias("username")).where(
        (Enrolment.session == session["id"]) & (Enrolment.percent == 0)).order_by(Enrolment.user).first()
    return session, me


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_learner_keeps_focus_on_the_button_used_and_hears_the_change(browser, live_server, demo, javascript):
    session, me = await _learner_in_progress()
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


# -- Issue 25: the main flows with the keyboard only (Tab, Shift+Tab, Enter, Space) ---------------
# Each stop of the focus: its name, whether it shows (a computed outline or box-shadow while it
# matches :focus-visible) and whether it comes after the previous stop in the document (the order of
# the page, no positive tabindex); a stop seen twice before the target is a trap.
FOCUS = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const s = getComputedStyle(e);
  const shown = e.matches(':focus-visible') &&
    ((s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none');
  const label = e.labels && e.labels.length ? e.labels[0].textContent : '';
  const name = (e.getAttribute('aria-label') || label || e.textContent || e.value || '').replace(/\\s+/g, ' ').trim();
  const previous = window.__kbdPrevious;
  const after = !previous || !previous.isConnected || !!(previous.compareDocumentPosition(e) & Node.DOCUMENT_POSITION_FOLLOWING);
  window.__kbdPrevious = e;
  if (!e.dataset.kbd) e.dataset.kbd = String(Math.random());
  return {name, tag: e.tagName.toLowerCase(), field: e.getAttribute('name') || '', shown, after,
          key: e.dataset.kbd};
}"""


async def focused(page) -> dict:
    return await page.evaluate(FOCUS)


async def tab_to(page, name: str, back: bool = False, steps: int = 120, field: str | None = None) -> dict:
    """Tab (Shift+Tab if ``back``) until the focus is on the element whose name contains ``name``
    (or, with ``field``, on a control of that form name); every stop visibly focused and in the
    document's order, none twice (no trap)."""
    seen, names = set(), []
    await page.evaluate("() => { window.__kbdPrevious = document.activeElement; }")
    for _ in range(steps):
        await page.keyboard.press("Shift+Tab" if back else "Tab")
        stop = await focused(page)
        assert stop is not None, f"the focus left the page after {names}"
        assert stop["shown"], f"focus not visible on {stop}"
        if not back:
            assert stop["after"] or not names, f"focus went back up the page to {stop} after {names[-3:]}"
        assert stop["key"] not in seen, f"{name!r} never reached: the focus loops over {names}"
        seen.add(stop["key"])
        names.append(stop["name"])
        if (stop["field"] == field) if field else (name in stop["name"]):
            return stop
    raise AssertionError(f"{name!r} not reached in {steps} Tab: {names}")


async def follow(page) -> None:
    """Enter on the focused link: the next page, loaded."""
    async with page.expect_navigation():
        await page.keyboard.press("Enter")


async def skip_link_first(page) -> None:
    """From the top of a page: the first Tab shows « Aller au contenu », Enter puts the focus on <main>."""
    await page.evaluate("() => { const b = document.body; b.tabIndex = -1; b.focus(); b.removeAttribute('tabindex'); }")
    await page.keyboard.press("Tab")
    stop = await focused(page)
    assert stop["name"] == "Aller au contenu" and stop["shown"], stop
    await page.keyboard.press("Enter")
    assert await page.evaluate("() => document.activeElement.tagName") == "MAIN"


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_keyboard_only_log_in_and_import_accounts(browser, live_server, demo, run_jobs, javascript):
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR",
                                        viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    try:
        # Log in: the name field has the focus; a wrong password is announced (role=alert).
        await page.goto(live_server + "/connexion")
        await skip_link_first(page)
        await tab_to(page, "Nom d'utilisateur")
        await page.keyboard.type("alp001.get")
        await tab_to(page, "Mot de passe")
        await page.keyboard.type("pas le bon")
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("alert")).to_be_visible()
        await expect(page.get_by_label("Nom d'utilisateur")).to_be_focused()
        await tab_to(page, "Mot de passe")
        await page.keyboard.type("Demo-2026!")
        await page.keyboard.press("Enter")
        await page.wait_for_url(live_server + "/")

        # Import accounts: the establishment, the import page, the file (Space opens the chooser).
        await skip_link_first(page)
        await tab_to(page, "CH BUIS LES BARONNIES")
        await follow(page)
        await tab_to(page, "Créer des comptes (via import CSV)")
        await follow(page)
        await skip_link_first(page)
        await tab_to(page, "Choisir un fichier")
        async with page.expect_file_chooser() as chooser:
            await page.keyboard.press("Space")
        await (await chooser.value).set_files(files=[{"name": "comptes.csv", "mimeType": "text/csv", "buffer": CSV}])
        await tab_to(page, "Importation d'utilisateurs")
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/imports/*")
        await run_jobs()
        if javascript:
            await expect(page.get_by_role("link", name="Voir l'aperçu de l'import")).to_be_visible()
            await skip_link_first(page)
            await tab_to(page, "Voir l'aperçu de l'import")
            await follow(page)
        confirm = page.get_by_role("button", name="Confirmer l'importation")
        await expect(confirm).to_be_visible(timeout=10_000)
        await skip_link_first(page)
        await tab_to(page, "Confirmer l'importation")
        await page.keyboard.press("Enter")
        await page.get_by_text("Import lancé").wait_for()
        await run_jobs()

        await snap(page, f"i25-keyboard-import-{'js' if javascript else 'nojs'}")
    finally:
        await context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_keyboard_only_learner_completes_an_activity(browser, live_server, demo, javascript):
    session, me = await _learner_in_progress()
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR",
                                        viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    try:
        await browser_login(page, live_server, me["username"])
        await skip_link_first(page)
        await tab_to(page, session["full_name"])
        await follow(page)
        await skip_link_first(page)
        await tab_to(page, "Généralités")
        await follow(page)
        await skip_link_first(page)
        await tab_to(page, "J'ai terminé")
        await page.keyboard.press("Space")
        await expect(page.get_by_role("button", name="Marquer comme non terminée")).to_be_visible()
        if javascript:
            await expect(page.locator("#live-region")).to_have_text("Activité marquée terminée.")
        else:
            await expect(page.get_by_role("status").filter(has_text="Activité marquée terminée.")).to_be_visible()
    finally:
        await context.close()


async def _choose(page, target) -> None:
    """A checkbox: Tab to it, Space. A radio: Tab into its group, then the arrows of the group (a
    radio group is one stop of the Tab key: the platform's arrows choose within it), Space."""
    label = await target.evaluate("e => e.labels[0].textContent.replace(/\\s+/g, ' ').trim()")
    if await target.get_attribute("type") == "radio":
        await tab_to(page, label, field=await target.get_attribute("name"))
        for _ in range(30):
            if await target.evaluate("e => e === document.activeElement"):
                break
            await page.keyboard.press("ArrowDown")
    else:
        await tab_to(page, label)
    await expect(target).to_be_focused()
    await page.keyboard.press("Space")
    await expect(target).to_be_checked()


async def _type(page, label: str, text: str) -> None:
    await tab_to(page, label)
    await page.keyboard.type(text)


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_keyboard_only_whole_registration_wizard(browser, live_server, demo, javascript):
    """Steps 1 to 9 and the sending with Tab, Space and Enter; an incomplete step 4 moves the focus
    to the error summary (role=alert); each new step starts with the skip link."""
    await qvt_session()
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR",
                                        viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    title = page.locator(".step-count")

    async def forward(number: int) -> None:
        await tab_to(page, "Étape suivante")
        await page.keyboard.press("Enter")
        await expect(title).to_contain_text(f"Étape {number} sur")
        await skip_link_first(page)

    try:
        await page.goto(live_server + "/inscription/26C03S1")
        await skip_link_first(page)
        await forward(2)
        await _choose(page, page.get_by_label("Financement par ma collectivité"))
        await forward(3)
        await _choose(page, page.get_by_label("Mairie de Nyons"))
        await forward(4)
        await _choose(page, page.get_by_label("Mme"))
        await _type(page, "Prénom", "Zoé")
        await _type(page, "Nom de famille", "Lemaître")
        await _type(page, "Adresse de courriel", "zoe@example.org")
        await _type(page, "Confirmer votre courriel", "zoe@example.org")
        await _type(page, "Code postal", "2611")  # too short: the server refuses it
        await tab_to(page, "Étape suivante")
        await page.keyboard.press("Enter")
        summary = page.get_by_role("alert").filter(has_text="Le formulaire contient")
        await expect(summary).to_be_focused()
        await skip_link_first(page)
        await tab_to(page, "Code postal")  # the Tab selects what the field holds: typed over
        await page.keyboard.type("26110")
        await forward(5)
        await _choose(page, page.get_by_label("Maire", exact=True))
        await forward(6)
        await _choose(page, page.get_by_role("group", name="Contraintes alimentaires").get_by_label("Non"))
        await forward(7)
        await forward(8)
        for group in ("covoiturage", "offre de formation", "utiliser mon image"):
            await _choose(page, page.get_by_role("group", name=re.compile(group)).get_by_label("Oui"))
        await forward(9)
        await _choose(page, page.get_by_label("J'ai lu et j'accepte les conditions générales."))
        await tab_to(page, "Envoyer ma demande d'inscription")
        await page.keyboard.press("Enter")
        await page.get_by_role("heading", name="Demande envoyée").wait_for()
        await skip_link_first(page)
        await snap(page, f"i25-keyboard-wizard-{'js' if javascript else 'nojs'}")
    finally:
        await context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_keyboard_only_enrol_a_learner(browser, live_server, demo, javascript):
    """« Inscrire mes utilisateurs »: the lists and their buttons in the page's order, a person chosen in
    « Utilisateurs potentiels » with the arrows, « ◄ Ajouter » reached back with Shift+Tab."""
    session_id = await qvt_session()
    await Enrolment.delete().where(Enrolment.session == session_id)
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR",
                                        viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "alp001.get")
        await page.goto(live_server + f"/sessions/{session_id}/inscriptions")
        await skip_link_first(page)
        await tab_to(page, "", field="remove")
        await tab_to(page, "", field="add")
        await page.keyboard.press("Home")  # the first potential learner, selected
        chosen = await page.locator("#add option:checked").inner_text()
        await tab_to(page, "Ajouter", back=True)
        await page.keyboard.press("Enter")
        await expect(page.locator("#remove option")).to_have_text([re.compile(re.escape(chosen.split(" (")[0]))])
        assert await Enrolment.count().where((Enrolment.session == session_id) & (Enrolment.active == True)) == 1  # noqa: E712
    finally:
        await context.close()
