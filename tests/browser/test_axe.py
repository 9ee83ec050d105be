"""Issue 25: every screen passes axe-core (WCAG 2.0/2.1 A and AA, tests/browser/axe.py) with
JavaScript and without, and starts with the skip link « Aller au contenu » to <main>.

The walk (tests/browser/screens.py) is every GET route of the app, each by the role that uses it
with its parameters taken from the full demo data, plus the other roles' home pages, an error page,
the public registration wizard step by step (and its error summary) and an import's preview.
Each role has one browser context, logged in once."""

import os
import re
import time

import pytest
from playwright.async_api import expect

from app.demo import load_demo
from app.tables.org import Establishment
from tests.browser import axe
from tests.browser.helpers import WIZARD_STEPS, browser_login, fill_identity, snap
from tests.browser.screens import EXCLUDED, USERS, demo_ids, fill, get_routes, screens, walker
from tests.browser.test_import_wizard import CSV

pytestmark = pytest.mark.browser
JS = pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])

# Without JavaScript: the public pages, the learner's and the trainer's (phones, locked-down PCs), the
# wizard and an import's preview; the managers' pages are walked with JavaScript only.
NO_JS_ROLES = {"anonymous", "learner", "alumnus", "trainer"}
SKIP_LINK = """() => {
  const a = document.activeElement;
  const target = a && a.hash ? document.querySelector(a.hash) : null;
  return {text: a ? a.textContent.trim() : '', target: target ? target.tagName.toLowerCase() : ''};
}"""


async def _context(browser, javascript: bool):
    context = await browser.new_context(locale="fr-FR", viewport={"width": 1366, "height": 768})
    if not javascript:
        await axe.without_app_scripts(context)
    return context


async def check(page, where: str, javascript: bool, problems: list[str], skip_link: bool = True) -> None:
    """axe on the page as shown, then the first Tab: the skip link to <main>."""
    if not javascript:
        await axe.unwrap_noscript(page)
    problems += axe.describe(where, await axe.violations(page))
    if not skip_link:  # the indicators' box for an iframe: one heading, figures and a link
        return
    # Sequential navigation from the top of the page (a field with autofocus moved it).
    await page.evaluate("""() => { const b = document.body; b.tabIndex = -1; b.focus(); b.removeAttribute('tabindex');
                                   window.scrollTo(0, 0); }""")
    await page.keyboard.press("Tab")
    first = await page.evaluate(SKIP_LINK)
    if first != {"text": "Aller au contenu", "target": "main"}:
        problems.append(f"{where}  first Tab: {first} (the skip link to <main> expected)")


async def _walk_role(browser, live_server, role, items, ids, javascript, problems) -> int:
    context = await _context(browser, javascript)
    page = await context.new_page()
    try:
        if role != "anonymous":
            await browser_login(page, live_server, ids[f"{role}_username"] if role in ("learner", "alumnus")
                                else USERS[role])
        for screen in items:
            url = screen.url if screen.route == "extra" else fill(screen.route, ids)
            response = await page.goto(live_server + url)
            where = f"[{role}] {url} ({screen.route})"
            if screen.route != "extra" and response.status != 200:
                problems.append(f"{where}  answered {response.status}")
            await check(page, where, javascript, problems, skip_link=not url.endswith("/encart"))
            await snap(page, "axe" + re.sub(r"\W+", "-", url))
    finally:
        await context.close()
    return len(items)


async def _wizard(browser, live_server, ids, javascript, problems) -> int:
    """The public registration wizard, each step (and the error summary of step 4) checked."""
    context = await _context(browser, javascript)
    page = await context.new_page()
    title, count = page.locator(".step-count"), 0
    try:
        await page.goto(f"{live_server}/inscription/{ids['qvt_code']}")
        await check(page, "[anonymous] wizard start", javascript, problems)
        next_step = page.get_by_role("button", name="Étape suivante")
        await next_step.click()
        for number in range(2, 9):
            await expect(title).to_contain_text(f"Étape {number} sur")
            if number == 4:
                await fill_identity(page, postal_code="2611")  # too short: the server's error summary
                await next_step.click()
                await expect(page.get_by_text("Le formulaire contient")).to_be_visible()
                await check(page, "[anonymous] wizard step 4, errors", javascript, problems)
            await check(page, f"[anonymous] wizard step {number}", javascript, problems)
            count += 1
            if number in WIZARD_STEPS:
                await WIZARD_STEPS[number](page)
            elif number == 8:
                for group in ("covoiturage", "offre de formation", "utiliser mon image"):
                    await page.get_by_role("group", name=re.compile(group)).get_by_label("Oui").check()
            await next_step.click()
        await expect(title).to_contain_text("Étape 9 sur")
        await check(page, "[anonymous] wizard step 9", javascript, problems)
        await page.get_by_label("J'ai lu et j'accepte les conditions générales.").check()
        await page.get_by_role("button", name="Envoyer ma demande d'inscription").click()
        await page.get_by_role("heading", name="Demande envoyée").wait_for()
        await check(page, "[anonymous] wizard sent", javascript, problems)
    finally:
        await context.close()
    return count + 4


async def _import_preview(browser, live_server, run_jobs, javascript, problems) -> int:
    context = await _context(browser, javascript)
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "alp001.get")
        await page.goto(f"{live_server}/etablissements/{await _alp001()}/import")
        await page.get_by_label("Choisir un fichier").set_input_files(
            files=[{"name": "comptes.csv", "mimeType": "text/csv", "buffer": CSV}])
        await page.get_by_role("button", name="Importation d'utilisateurs").click()
        await page.wait_for_url("**/imports/*")
        await check(page, "[get] import analysing", javascript, problems)
        await run_jobs()
        await page.reload()
        await expect(page.get_by_role("button", name="Confirmer l'importation")).to_be_visible(timeout=10_000)
        await check(page, "[get] import preview", javascript, problems)
    finally:
        await context.close()
    return 2


async def _alp001() -> int:
    return (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]


@pytest.mark.timeout(900)  # about 150 pages: a minute or two on a quiet machine
@JS
async def test_every_screen_passes_axe_and_starts_with_the_skip_link(
        browser, live_server, clean, redis_client, run_jobs, app, javascript):
    started = time.monotonic()
    await load_demo()
    ids = await demo_ids(redis_client)
    walk = screens(app, ids)
    if not javascript:  # the pages people reach from outside or on a phone; the managers' pages with JS
        walk = [s for s in walk if s.role in NO_JS_ROLES]
    problems: list[str] = []
    count = 0
    for role in dict.fromkeys(s.role for s in walk):
        count += await _walk_role(browser, live_server, role, [s for s in walk if s.role == role], ids, javascript,
                                  problems)
    walked = time.monotonic()
    for name, flow in (("wizard", _wizard(browser, live_server, ids, javascript, problems)),
                       ("import", _import_preview(browser, live_server, run_jobs, javascript, problems))):
        try:
            count += await flow
        except Exception as exc:  # noqa: BLE001 - reported with the pages' problems
            problems.append(f"the {name} flow stopped: {str(exc)[:300]}")
    print(f"axe walk ({'js' if javascript else 'no-js'}): {count} pages in {time.monotonic() - started:.0f} s"
          f" (the routes' walk {walked - started:.0f} s)")
    assert count > (120 if javascript else 30)
    if os.environ.get("TREMPLIN_AXE_LOG"):
        print("\n".join(problems), flush=True)
    assert problems == [], "\n" + "\n".join(problems)


async def test_every_get_route_is_walked_or_excluded(app):
    """A new GET route must be classified: walked (a walker role) or excluded with its reason."""
    routes = get_routes(app)
    unknown = []
    for path, opt in routes.items():
        if path in EXCLUDED:
            continue
        try:
            walker(path, opt)
        except KeyError:
            unknown.append(path)
    assert unknown == []
    assert set(EXCLUDED) <= set(routes), "an excluded route no longer exists"


async def test_the_checker_reports_a_violation(browser, live_server, demo):
    """The check can fail: an unlabelled field put into the login page is reported, with its target."""
    context = await _context(browser, True)
    page = await context.new_page()
    try:
        await page.goto(live_server + "/connexion")
        assert await axe.violations(page) == []
        await page.evaluate("""() => { const i = document.createElement('input'); i.id = 'unlabelled';
                                       document.querySelector('main form').append(i); }""")
        found = await axe.violations(page)
        assert [(v["id"], v["targets"]) for v in found] == [("label", ["#unlabelled"])]
        assert axe.describe("/connexion", found) == ["/connexion  label (critical): #unlabelled"]
    finally:
        await context.close()
