"""Issue 20's screenshot pass at 390×844 without JavaScript: a registration request's answers and
the analytics filters fit a phone's width (a long e-mail address or course title used to widen the
whole page, so every line had to be scrolled sideways)."""

from datetime import date

import pytest
from playwright.async_api import expect

from app.tables.catalogue import TrainingSession
from app.tables.org import Establishment
from app.tables.registration import RegistrationRequest
from tests.browser.helpers import browser_login, snap

pytestmark = pytest.mark.browser

PAGE_WIDTH = "document.documentElement.scrollWidth"


async def test_a_request_and_the_analytics_filters_fit_a_phone(browser, live_server, demo):
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    session_id = (await TrainingSession.insert(TrainingSession(
        establishment=alp001, full_name="Session QVT", short_name="QVT", start_date=date(2027, 3, 9),
        end_date=date(2027, 3, 10), code="27X00S1")).returning(TrainingSession.id))[0]["id"]
    request_id = (await RegistrationRequest.insert(RegistrationRequest(
        reference="R27-LONG", status="confirmed", session=session_id, civility="Mme", first_name="Marie-Amélie",
        last_name="Rochebrune-Vallauris", email="marie-amelie.rochebrune-vallauris@example.org",
        postal_code="05140", phone="04 92 58 12 34")).returning(RegistrationRequest.id))[0]["id"]
    context = await browser.new_context(java_script_enabled=False, locale="fr-FR", viewport={"width": 390, "height": 844})
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "inscriptions")
        await page.goto(f"{live_server}/gestion-inscriptions/demandes/{request_id}")
        await expect(page.get_by_text("marie-amelie.rochebrune-vallauris@example.org").first).to_be_visible()
        await snap(page, "phone-request")
        assert await page.evaluate(PAGE_WIDTH) <= 390
        # Each heading sits above its answer: « Code postal » then 05140, not side by side.
        heading = await page.locator("dt", has_text="Code postal").bounding_box()
        answer = await page.locator("dt:has-text('Code postal') + dd").bounding_box()
        assert answer["y"] >= heading["y"] + heading["height"] - 1
    finally:
        await context.close()

    context = await browser.new_context(java_script_enabled=False, locale="fr-FR", viewport={"width": 390, "height": 844})
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "alp001.get")
        await page.goto(live_server + "/analytique")
        await expect(page.get_by_label("Public")).to_be_visible()
        await snap(page, "phone-analytics")
        assert await page.evaluate(PAGE_WIDTH) <= 390
    finally:
        await context.close()


# The right edge of the text the reader sees (screen-reader-only copies left out).
TEXT_RIGHT = """(start) => {
  let right = 0;
  const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    if (!node.data.includes(start) || node.parentElement.closest('.sr-only')) continue;
    const r = document.createRange(); r.selectNodeContents(node);
    for (const box of r.getClientRects()) right = Math.max(right, box.right);
  }
  return right;
}"""


async def test_the_sentences_over_scrolling_tables_are_read_whole_on_a_phone(browser, live_server, demo):
    """/ops's time zone of the planned tasks and the attendance grid's legend were the captions of
    tables wider than a phone: cut at the screen's edge. They now sit above the scrolling table."""
    from tests.controllers.test_attendance import _session

    data = await _session(code="26X00P1")
    for user, path, start in (("admin", "/ops", "Heures du fuseau"),
                              ("alp001.get", f"/sessions/{data['session']}/presences", "Pour chaque créneau")):
        context = await browser.new_context(java_script_enabled=False, locale="fr-FR",
                                            viewport={"width": 390, "height": 844})
        page = await context.new_page()
        try:
            await browser_login(page, live_server, user)
            await page.goto(live_server + path)
            await expect(page.get_by_text(start).first).to_be_attached()
            right = await page.evaluate(TEXT_RIGHT, start)
            assert 0 < right <= 390, (path, right)
        finally:
            await context.close()


async def test_the_certificates_actions_stay_on_one_line_on_a_phone(browser, live_server, demo):
    """The actions column was squeezed by the status column on a phone: « Envoyer par courriel » took
    three lines and every row was 200 px high. The actions stay on one line; the table scrolls."""
    from tests.services.test_certificates import completed_session

    session_id, *_ = await completed_session()
    context = await browser.new_context(java_script_enabled=False, locale="fr-FR", viewport={"width": 390, "height": 844})
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "alp001.get")
        await page.goto(f"{live_server}/sessions/{session_id}/attestations")
        row = page.locator("main tbody tr").first
        show = await row.get_by_role("link", name="Afficher le Certificat").bounding_box()
        send = await row.get_by_role("button", name="Envoyer par courriel").bounding_box()
        reissue = await row.get_by_role("link", name="Réémettre").bounding_box()
        assert abs(show["y"] - reissue["y"]) < 4 and send["height"] < 2 * show["height"]
    finally:
        await context.close()
