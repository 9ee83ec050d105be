"""Chromium under the real Content-Security-Policy: no page blocks one of its own scripts or styles
(a blocked inline script or style is reported on the console and as a securitypolicyviolation)."""

import pytest

from app.tables.catalogue import TrainingSession
from app.tables.org import Establishment
from tests.browser.helpers import browser_login

pytestmark = pytest.mark.browser

# Playwright's init scripts are not subject to the page's CSP: this listener sees every violation.
LISTEN = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


class Watch:
    def __init__(self, page):
        self.page = page
        self.console = []
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))

    async def check(self, where: str):
        violations = await self.page.evaluate("window.__violations || []")
        csp = [m for m in self.console if "Content Security Policy" in m or "Refused to" in m]
        assert not violations and not csp, (where, violations, csp)
        assert not [m for m in self.console if m.startswith("pageerror")], (where, self.console)


async def test_no_page_breaks_its_own_content_security_policy(browser, live_server, demo):
    from app.demo import _load_sessions

    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    await _load_sessions(alp001)
    session = await TrainingSession.select(TrainingSession.id, TrainingSession.code).where(
        TrainingSession.establishment == alp001).first()
    context = await browser.new_context(locale="fr-FR")
    await context.add_init_script(LISTEN)
    page = await context.new_page()
    watch = Watch(page)
    try:
        await page.goto(live_server + "/connexion")
        await watch.check("login page")
        await browser_login(page, live_server, "alp001.get")
        await watch.check("home")
        await page.get_by_role("link", name="Gérer mes utilisateurs").click()
        await page.wait_for_url("**/utilisateurs**")
        await page.evaluate("window.__marker = 'same page'")
        # An htmx swap (the filter) runs under the same policy: htmx injects no style, evaluates nothing.
        await page.get_by_label("Nom de famille").fill("a")
        await page.wait_for_url("**last_name=a**")
        assert await page.evaluate("window.__marker") == "same page"
        await watch.check("users list and its htmx filter")
        await page.goto(f"{live_server}/sessions/{session['id']}/")
        await page.get_by_role("heading").first.wait_for()
        await watch.check("a session page")
        await page.goto(f"{live_server}/inscription/{session['code']}")
        await watch.check("the public registration page")
    finally:
        await context.close()


async def test_the_watch_sees_a_blocked_inline_script(browser, live_server):
    """The check above would see a violation: an inline script on one of our pages is blocked."""
    context = await browser.new_context()
    await context.add_init_script(LISTEN)
    page = await context.new_page()
    watch = Watch(page)
    try:
        await page.goto(live_server + "/connexion")
        await page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';
                                       document.body.appendChild(s); }""")
        await page.wait_for_function("window.__violations.length > 0")
        assert await page.evaluate("window.__ran") is None
        with pytest.raises(AssertionError):
            await watch.check("login page with an injected inline script")
    finally:
        await context.close()
