"""Issue 23 in Chromium, JavaScript on and off: a GET opens a session's questionnaire results from the
session page, then the public indicators page (no login) shows the template's figures."""

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.async_api import expect

from app.controllers.indicators import EMBED_HEIGHT
from app.tables.org import Establishment
from tests.browser.helpers import browser_login, snap
from tests.browser.test_content_security_policy import LISTEN, Watch
from tests.services.test_survey_results import OVERALL, build_dataset

pytestmark = pytest.mark.browser


@contextmanager
def partner_site(body: str):
    """A one-page site on another port of 127.0.0.1: yields its address, then stops."""
    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            content = f"<!doctype html><title>Partenaire</title>{body}".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_a_get_reads_the_results_and_the_public_sees_the_indicators(browser, live_server, demo, javascript):
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    data = await build_dataset(alp001)
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR",
                                        viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "alp001.get")
        await page.goto(f"{live_server}/sessions/{data.s1.id}/")
        await page.get_by_role("group", name="Qualité").get_by_role("link", name="Questionnaires").click()
        await expect(page.get_by_role("heading", level=1)).to_contain_text("Questionnaires —")
        # « Moment : Tous »: each questionnaire under its own heading.
        await expect(page.get_by_role("heading", level=2, name="À chaud")).to_be_visible()
        await expect(page.get_by_role("heading", level=2, name="À froid")).to_be_visible()
        kpis = page.locator("dl.kpis").first
        await expect(kpis).to_contain_text("Taux de réponse")
        await expect(kpis).to_contain_text("66,7 %")
        hot = page.get_by_role("region", name="À chaud")
        await expect(hot.get_by_role("heading", name=OVERALL)).to_be_visible()
        await expect(hot.get_by_role("img", name=OVERALL)).to_be_visible()  # the SVG chart and its title
        await page.get_by_label("Moment").select_option("hot")
        await page.get_by_role("button", name="Filtrer").click()
        await expect(kpis).to_contain_text("66,7 %")  # 2 answers of 3 invited
        await expect(page.locator("dl.kpis")).to_have_count(1)
        await snap(page, f"i23-results-{'js' if javascript else 'nojs'}")
        await page.go_back()  # Back: the select shows the filter of the page shown (« Tous »)
        await expect(page.get_by_label("Moment")).to_have_value("")

        public = await browser.new_context(java_script_enabled=javascript, locale="fr-FR")
        await public.add_init_script(LISTEN)  # no page breaks its Content-Security-Policy, the snippet's either
        visitor = await public.new_page()
        watch = Watch(visitor)
        try:
            await visitor.goto(f"{live_server}/connexion")
            await visitor.get_by_role("link", name="Indicateurs de résultats de nos formations").click()
            await visitor.get_by_role("link", name="Formation Q01").click()
            await expect(visitor).to_have_title("Indicateurs de résultats — Formation Q01 — Tremplin")
            await expect(visitor.locator(".period")).to_contain_text(", 5 stagiaires.")
            await expect(visitor.locator("dl.kpis")).to_contain_text("Stagiaires formés")
            await expect(visitor.get_by_label("Code de l'encart")).to_have_value(
                f'<iframe src="http://testserver.local/indicateurs/Q01/encart" title="Indicateurs de résultats — '
                f'Formation Q01" width="100%" height="{EMBED_HEIGHT}" loading="lazy" style="border:0"></iframe>')
            await snap(visitor, f"i23-indicators-{'js' if javascript else 'nojs'}")
            if javascript:
                await watch.check("the indicators page")
            await visitor.goto(f"{live_server}/indicateurs/Q01/encart")
            await expect(visitor.locator(".period")).to_contain_text("5 stagiaires")
            if javascript:  # its inline style allowed by its hash: styled (a border), nothing refused
                await watch.check("the snippet")
                assert await visitor.locator(".box").evaluate("e => getComputedStyle(e).borderTopStyle") == "solid"
                # Another site frames the snippet; the full page (X-Frame-Options DENY) stays refused.
                # The other site (another port: another origin), served from this machine: Chromium refuses a
                # frame of a local address to a page that did not come from one (Local Network Access).
                with partner_site(f'<iframe id="snippet" src="{live_server}/indicateurs/Q01/encart"></iframe>'
                                  f'<iframe id="page" src="{live_server}/indicateurs/Q01"></iframe>') as partner:
                    async with visitor.expect_response(lambda r: r.url.endswith("/indicateurs/Q01")):
                        await visitor.goto(partner)
                    await expect(visitor.frame_locator("#snippet").locator(".period")).to_contain_text("5 stagiaires")
                    # Refused (frame-ancestors 'none', X-Frame-Options DENY): Chromium's error page, not ours.
                    await expect(visitor.frame_locator("#page").get_by_text("Données du")).to_have_count(0)
                    assert [f.url for f in visitor.frames if f.url.endswith("/indicateurs/Q01")] == []
                # The suggested height holds the whole snippet, its link included, on a phone's width.
                frames = "".join(f'<iframe id="w{w}" src="{live_server}/indicateurs/Q01/encart" width="{w}" '
                                 f'height="{EMBED_HEIGHT}" style="border:0"></iframe>' for w in (320, 390))
                with partner_site(frames) as partner:
                    await visitor.goto(partner)
                    for width in (320, 390):
                        frame = visitor.frame_locator(f"#w{width}")
                        link = frame.get_by_role("link", name="Détail et méthode de calcul")
                        await expect(link).to_be_visible()
                        # What the content needs (the document's scrollHeight is at least the frame's).
                        needed = await frame.locator(".box").evaluate("e => Math.ceil(e.getBoundingClientRect().bottom)")
                        print("snippet height", width, needed)
                        assert needed <= EMBED_HEIGHT, (width, needed)
                    await snap(visitor, "i23-snippet-framed")
        finally:
            await public.close()
    finally:
        await context.close()
