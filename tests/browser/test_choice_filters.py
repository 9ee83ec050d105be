"""A list's filters whose choices grow without bound (issue 24, point 5), in Chromium: with
JavaScript, typing shows the matching choices in a listbox, picked with the arrows and Enter or a
click, and the list then shows that choice's rows only; without JavaScript, the typed text filters
the list. TREMPLIN_SCREENSHOTS=/tmp/filters- keeps a picture of each step."""

import re

import pytest
from playwright.async_api import expect

from app.tables.org import Establishment
from tests.browser.helpers import browser_login, snap
from tests.controllers.test_choice_filters import _organisations, _request, _session

pytestmark = pytest.mark.browser

SIZE = {"width": 1366, "height": 768}
LISTEN = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective));
"""


async def seed() -> dict:
    mollans, = await _organisations(["Mairie de Mollans-sur-Ouvèze"], "26170", "Mollans-sur-Ouvèze")
    others = await _organisations([f"Mairie de Montbrun-{i}" for i in range(40)], "26570", "Montbrun")
    await _request("Mollandais", organisation=mollans)
    for i, org in enumerate(others):
        await _request(f"Montbrunois{i}", organisation=org)
    s1 = await _session("ALP001", "26C03S1", "Accueil des agents")
    s10 = await _session("ALP001", "26C03S10", "Accueil des agents, suite")
    await _request("Premier", session=s1)
    await _request("Dixième", session=s10)
    return {"mollans": mollans, "s1": s1}


async def test_with_javascript_a_choice_is_typed_then_picked_with_the_keyboard_or_the_mouse(browser, live_server, demo):
    ids = await seed()
    context = await browser.new_context(locale="fr-FR", viewport=SIZE)
    await context.add_init_script(LISTEN)
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "inscriptions")
        await page.goto(live_server + "/gestion-inscriptions/demandes/")
        rows = page.locator("#table-region tbody")
        field = page.get_by_role("combobox", name="Établissement")
        listbox = page.get_by_role("listbox", name="Propositions : Établissement")
        await expect(listbox).to_be_hidden()
        await field.press_sequentially("mollans sur ouv", delay=30)
        option = listbox.get_by_role("option", name="Mairie de Mollans-sur-Ouvèze (26170 Mollans-sur-Ouvèze)")
        await expect(option).to_be_visible()
        await expect(field).to_have_attribute("aria-expanded", "true")
        await snap(page, "suggestions")
        await field.press("ArrowDown")
        await expect(option).to_have_attribute("aria-selected", "true")
        await expect(field).to_have_attribute("aria-activedescendant", f"organisation-option-{ids['mollans']}")
        await field.press("Enter")
        await expect(page).to_have_url(re.compile(rf"organisation={ids['mollans']}"))
        await expect(rows).to_contain_text("Mollandais")
        await expect(rows).not_to_contain_text("Montbrunois")
        await expect(field).to_have_value("Mairie de Mollans-sur-Ouvèze (26170 Mollans-sur-Ouvèze)")
        await expect(listbox).to_be_hidden()
        await expect(field).to_be_focused()
        await snap(page, "picked")

        # Many matches: 20 shown and a note; Escape closes the list, the text stays.
        await field.fill("")
        await field.press_sequentially("montbrun", delay=30)
        await expect(listbox.locator("[data-value]")).to_have_count(20)
        await expect(listbox).to_contain_text("D'autres correspondent : précisez la saisie.")
        await field.press("Escape")
        await expect(listbox).to_be_hidden()
        await expect(field).to_have_value("montbrun")

        # The session field, picked with the mouse: 26C03S1 only, not 26C03S10.
        await field.fill("")
        session = page.get_by_role("combobox", name="Session")
        await session.press_sequentially("26c03s1", delay=30)
        sessions = page.get_by_role("listbox", name="Propositions : Session")
        await expect(sessions.get_by_role("option")).to_have_count(2)
        await sessions.get_by_role("option", name="26C03S1 — Accueil des agents", exact=True).click()
        await expect(page).to_have_url(re.compile(rf"session={ids['s1']}"))
        await expect(rows).to_contain_text("Premier")
        await expect(rows).not_to_contain_text("Dixième")
        await snap(page, "session-picked")
        assert await page.evaluate("window.__violations") == []
    finally:
        await context.close()


async def test_without_javascript_the_typed_text_filters_the_list(browser, live_server, demo):
    ids = await seed()
    context = await browser.new_context(java_script_enabled=False, locale="fr-FR", viewport=SIZE)
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "inscriptions")
        await page.goto(live_server + "/gestion-inscriptions/demandes/")
        rows = page.locator("#table-region tbody")
        field = page.get_by_label("Établissement", exact=True)
        await field.fill("MOLLANS-SUR-OUVÈZE")
        await field.press("Enter")
        await expect(page).to_have_url(re.compile(r"organisation_q=MOLLANS"))
        await expect(rows).to_contain_text("Mollandais")
        await expect(rows).not_to_contain_text("Montbrunois")
        await snap(page, "nojs-typed")
        # A link with a picked choice (another page, or the page before) shows its label; typing
        # another text there and sending the form filters on the text.
        await page.goto(live_server + f"/gestion-inscriptions/demandes/?session={ids['s1']}")
        session = page.get_by_label("Session", exact=True)
        await expect(session).to_have_value("26C03S1 — Accueil des agents")
        await expect(rows).not_to_contain_text("Dixième")
        await session.fill("suite")
        await page.get_by_role("button", name="Filtrer").click()
        await expect(rows).to_contain_text("Dixième")
        await expect(rows).not_to_contain_text("Premier")
        await snap(page, "nojs-retyped")
    finally:
        await context.close()


async def test_a_get_picks_one_of_their_establishments_and_the_dashboard_works_without_javascript(
        browser, live_server, demo):
    context = await browser.new_context(locale="fr-FR", viewport=SIZE)
    await context.add_init_script(LISTEN)
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "alp001.get")  # ALP001 and ALP002
        await page.goto(live_server + "/utilisateurs")
        field = page.get_by_role("combobox", name="Établissement")
        listbox = page.get_by_role("listbox", name="Propositions : Établissement")
        await field.press_sequentially("dam", delay=30)
        await expect(listbox).to_contain_text("Aucune correspondance")  # another delegation's: never proposed
        await field.fill("")
        await field.press_sequentially("alp00", delay=30)
        await expect(listbox.get_by_role("option")).to_have_count(2)
        await snap(page, "users-suggestions")
        await field.press("ArrowDown")
        await field.press("ArrowDown")
        await field.press("Enter")
        await expect(page).to_have_url(re.compile(r"establishment=\d+"))
        await expect(field).to_have_value(re.compile(r"^ALP002 — "))
        names = {r["code"]: r["name"] for r in await Establishment.select(Establishment.code, Establishment.name)}
        await expect(page.locator("#table-region tbody")).to_contain_text(names["ALP002"])
        await expect(page.locator("#table-region tbody")).not_to_contain_text(names["ALP001"])
        assert await page.evaluate("window.__violations") == []
    finally:
        await context.close()
    context = await browser.new_context(java_script_enabled=False, locale="fr-FR", viewport=SIZE)
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "admin")
        await page.goto(live_server + "/analytique")
        await page.get_by_label("Établissement", exact=True).fill("alp")
        await page.get_by_role("button", name="Filtrer").click()
        status = page.get_by_role("status").filter(has_text="plusieurs correspondent")
        await expect(status).to_be_visible()
        await snap(page, "dashboard-nojs-several")
        await status.get_by_role("link", name=re.compile(r"^ALP002 — ")).click()
        await expect(page.get_by_label("Établissement", exact=True)).to_have_value(re.compile(r"^ALP002 — "))
        await snap(page, "dashboard-nojs-picked")
    finally:
        await context.close()
