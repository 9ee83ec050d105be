"""RGAA 10.11 and 10.4 (issue 25), what axe-core does not judge: at 320 CSS pixels wide (a phone, or
1280 px zoomed to 400 %) and at 640 (1280 px zoomed to 200 %), no page needs a horizontal scroll —
wide tables scroll inside their own box —; and each page has its own meaningful title."""

import pytest

from app.tables.catalogue import TrainingSession
from tests.browser.helpers import browser_login
from tests.factories import qvt_session

pytestmark = pytest.mark.browser

OVERFLOW = """() => { const d = document.documentElement; return {width: d.scrollWidth, view: d.clientWidth,
  title: document.title}; }"""


async def _paths() -> tuple[list[str], list[str]]:
    session = {"id": await qvt_session()}
    opened = await TrainingSession.select(TrainingSession.code).where(TrainingSession.id == session["id"]).first()
    staff = ["/", "/utilisateurs", "/roles", "/admin/journal", "/admin/donnees/conservation", "/admin/donnees/registre",
             "/admin/donnees/suppressions", "/analytique", "/ops/", "/gestion-inscriptions/", "/catalogue",
             f"/sessions/{session['id']}", f"/sessions/{session['id']}/inscriptions",
             f"/sessions/{session['id']}/participants", "/mes-donnees", "/bpf/"]
    public = ["/connexion", "/accessibilite/", "/accessibilite/signaler", f"/inscription/{opened['code']}"]
    return staff, public


@pytest.mark.parametrize("width", [320, 640])
async def test_pages_reflow_without_a_horizontal_scroll_and_have_their_own_titles(browser, live_server, demo, width):
    staff, public = await _paths()
    titles, wide = {}, []
    for who, paths in (("admin", staff), (None, public)):
        context = await browser.new_context(locale="fr-FR", viewport={"width": width, "height": 700})
        page = await context.new_page()
        try:
            if who:
                await browser_login(page, live_server, who)
            for path in paths:
                await page.goto(live_server + path)
                seen = await page.evaluate(OVERFLOW)
                if seen["width"] > seen["view"] + 1:
                    wide.append((path, seen["width"]))
                titles[path] = seen["title"]
        finally:
            await context.close()
    assert wide == [], f"a horizontal scroll at {width} px: {wide}"
    assert all(t.strip() and t != "Tremplin" for t in titles.values()), titles
    assert len(set(titles.values())) == len(titles), titles
