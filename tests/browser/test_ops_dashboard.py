"""The operations dashboard in Chromium (SPEC G2): with JavaScript, the overview refreshes itself every
5 s and pauses while the tab is hidden; without JavaScript every page and the retry of a filtered
set still work. The page's timers run on Playwright's clock: the test makes their time pass rather
than waiting for it. TREMPLIN_SCREENSHOTS=/tmp/ops- keeps a 1366×768 picture of each page."""

import pytest
from playwright.async_api import expect

from app.tables.jobs import JobAction, JobRun
from tests.browser.helpers import browser_login, snap
from tests.controllers.test_ops import add_run

pytestmark = pytest.mark.browser

SIZE = {"width": 1366, "height": 768}
LISTEN = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective));
"""
HIDE = """(state) => {
  Object.defineProperty(document, 'visibilityState', {value: state, configurable: true});
  Object.defineProperty(document, 'hidden', {value: state === 'hidden', configurable: true});
  document.dispatchEvent(new Event('visibilitychange'));
}"""


async def seed():
    for i in range(3):
        await add_run(kind="send_mail", status="failed", args=(i,), key=f"m{i}",
                      error=f"Traceback (most recent call last):\nSMTPServerDisconnected: connexion perdue ({i})")
    for i in range(6):
        await add_run(kind="send_mail", status="succeeded", args=(10 + i,), key=f"ok{i}", duration=0.5 + i)
    await add_run(kind="import_accounts", status="failed", args=(5, {"password": "Zx9-Secret!"}), key="imp",
                  error="ValueError: ligne 12 : password='Zx9-Secret!'")
    await add_run(kind="export_table", status="running", key="run", minutes_ago=0, duration=0, worker="hote:4242")


async def test_dashboard_with_javascript_refreshes_while_visible(browser, live_server, demo):
    await seed()
    context = await browser.new_context(locale="fr-FR", viewport=SIZE)
    await context.add_init_script(LISTEN)
    await context.clock.install()  # the page's timers (htmx's « every 5s ») on a clock the test moves
    page = await context.new_page()
    refreshes = []

    def overview_refresh(request):
        return bool(request.headers.get("hx-request")) and "/ops" in request.url

    page.on("request", lambda r: refreshes.append(r.url) if overview_refresh(r) else None)
    try:
        await browser_login(page, live_server, "admin")
        await page.get_by_role("link", name="Exploitation").click()
        await page.get_by_role("heading", name="Exploitation — tâches de fond").wait_for()
        await snap(page, "overview")
        await page.evaluate("window.__marker = 'same page'")
        # A job waits now: the next refresh shows it, without reloading the page.
        await add_run(kind="sync_cohort", status="queued", key="new", minutes_ago=0)
        await page.clock.run_for(5_000)
        await expect(page.locator("#ops-overview dl.kpis dd", has_text="le plus ancien attend")).to_be_visible()
        assert await page.evaluate("window.__marker") == "same page"
        assert refreshes, "the overview should refresh itself"

        # Hidden tab: no refresh; shown again: one at once.
        await page.evaluate(HIDE, "hidden")
        count = len(refreshes)
        await page.clock.run_for(12_000)  # two periods of 5 s and more
        await page.evaluate("1")  # a round trip: a request started by those timers would be seen by now
        assert len(refreshes) == count, "no refresh while the tab is hidden"
        async with page.expect_request(overview_refresh, timeout=5_000):
            await page.evaluate(HIDE, "visible")  # a refresh at once, without any time passing
        assert len(refreshes) > count, "a refresh as soon as the tab is shown"

        # The failed jobs, one retried from the list.
        await page.get_by_role("link", name="Jobs en échec").first.click()
        await page.get_by_role("heading", name="Jobs en échec").wait_for()
        assert "Zx9-Secret" not in await page.content()
        await snap(page, "failed")
        await page.locator("tr", has_text="Import de comptes").get_by_role("button", name="Relancer").click()
        await page.get_by_text("relancé.").wait_for()
        await snap(page, "run")
        # Retry every failed mail: filter, confirm, done.
        await page.goto(live_server + "/ops/jobs?status=failed")
        await page.get_by_label("Type de job").select_option("send_mail")
        await page.wait_for_url("**kind=send_mail**")
        await page.get_by_role("link", name="Relancer les jobs en échec de ce filtre…").click()
        await page.get_by_role("button", name="Relancer 3 job(s)").wait_for()
        await snap(page, "confirm")
        await page.get_by_role("button", name="Relancer 3 job(s)").click()
        await page.get_by_text("3 job(s) relancé(s).").wait_for()
        await page.get_by_role("link", name="Historique des actions").first.click()
        await page.get_by_role("heading", name="Historique des actions").wait_for()
        await snap(page, "actions")
        assert await page.evaluate("window.__violations") == []
    finally:
        await context.close()
    assert await JobAction.count() == 4  # one per run: the import, then the 3 mails
    assert await JobRun.count().where(JobRun.status == "queued") == 5


async def test_dashboard_without_javascript(browser, live_server, demo):
    await seed()
    context = await browser.new_context(locale="fr-FR", viewport=SIZE, java_script_enabled=False)
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "admin")
        await page.goto(live_server + "/ops")
        await page.get_by_role("heading", name="Par type de job").wait_for()
        await page.get_by_role("link", name="Rafraîchir").click()
        await page.get_by_role("heading", name="Exploitation — tâches de fond").wait_for()
        await snap(page, "overview-nojs")
        await page.get_by_role("link", name="Jobs en échec").first.click()
        await page.get_by_label("Type de job").select_option("send_mail")
        await page.get_by_role("button", name="Filtrer").click()
        await page.wait_for_url("**kind=send_mail**")
        await page.get_by_role("link", name="Relancer les jobs en échec de ce filtre…").click()
        await page.get_by_role("button", name="Relancer 3 job(s)").click()
        await page.get_by_text("3 job(s) relancé(s).").wait_for()
        # Abort the running export through its confirmation page.
        run_id = (await JobRun.select(JobRun.id).where(JobRun.kind == "export_table").first())["id"]
        await page.goto(f"{live_server}/ops/jobs/{run_id}")
        await page.get_by_role("link", name="Abandonner ce job…").click()
        await page.get_by_role("button", name="Abandonner").click()
        await page.get_by_text(f"Job n° {run_id} abandonné.").wait_for()
        await snap(page, "run-nojs")
    finally:
        await context.close()
    assert (await JobRun.select(JobRun.status).where(JobRun.kind == "export_table").first())["status"] == "aborted"
