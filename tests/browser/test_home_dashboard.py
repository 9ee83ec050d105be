"""Issue 20 point 21: a manager's home is the place to start the day — the sessions of the week and
in progress (fill, progress, learners to remind), what waits (online requests, imports) and the
convocations that failed, each a link to act; only their own establishments (JS on and off)."""

import pytest
from playwright.async_api import expect

from app.dates import now
from app.tables.accounts import RoleAssignment
from app.tables.catalogue import TrainingSession
from app.tables.convocations import ConvocationNotice
from app.tables.imports import ImportBatch
from app.tables.learning import Enrolment
from app.tables.org import Establishment
from app.tables.registration import RegistrationRequest
from tests.browser.helpers import browser_login, snap

pytestmark = pytest.mark.browser


async def _session_in_progress(code: str) -> dict:
    from app.demo import _load_session_in_progress

    establishment = (await Establishment.select(Establishment.id).where(Establishment.code == code).first())["id"]
    learners = [r["user"] for r in await RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == "learner") & (RoleAssignment.establishment == establishment)).order_by(
        RoleAssignment.user)]
    await _load_session_in_progress(establishment, learners)
    return await TrainingSession.select().where(TrainingSession.establishment == establishment).first()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_manager_home_lists_what_needs_doing_in_scope(browser, live_server, demo, javascript):
    mine = await _session_in_progress("ALP001")
    other = await _session_in_progress("DAM001")
    enrolments = await Enrolment.select(Enrolment.id, Enrolment.last_visit, Enrolment.completed_at).where(
        (Enrolment.session == mine["id"]) & (Enrolment.active == True))  # noqa: E712
    never = sum(1 for e in enrolments if e["last_visit"] is None and e["completed_at"] is None)
    assert never > 0
    for session in (mine, other):
        first = await Enrolment.select(Enrolment.id).where(Enrolment.session == session["id"]).first()
        await ConvocationNotice.insert(ConvocationNotice(enrolment=first["id"], session=session["id"],
                                                         kind="convocation", status="failed", attempts=5))
        await RegistrationRequest.insert(RegistrationRequest(reference=f"R-{session['id']}", status="confirmed",
                                                             session=session["id"], first_name="Ana", last_name="Lys"))
    alp001 = mine["establishment"]
    await ImportBatch.insert(ImportBatch(establishment=alp001, filename="agents-decembre.csv", status="preview",
                                         total_rows=12, created_at=now()))
    await ImportBatch.insert(ImportBatch(establishment=other["establishment"], filename="ailleurs.csv",
                                         status="preview", total_rows=3, created_at=now()))

    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR",
                                        viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "alp001.get")
        week = page.get_by_role("region", name="Sessions de la semaine et en cours")
        # Both sessions share their name (same template and dates): told apart by their code.
        row = page.get_by_role("row").filter(has_text=mine["code"])
        await expect(row).to_contain_text(f"{len(enrolments)} inscrit(s)")
        await expect(row).to_contain_text("% en moyenne")
        await expect(row.get_by_role("link", name=f"{never} apprenant(s) à relancer")).to_be_visible()
        await expect(page.get_by_role("link", name="1 convocation(s) non envoyée(s) — " + mine["full_name"])).to_be_visible()
        await expect(page.get_by_role("link", name="1 demande(s) d'inscription en ligne en cours — "
                                                   + mine["full_name"])).to_be_visible()
        await expect(page.get_by_role("link", name="Import à confirmer — agents-decembre.csv (12 ligne(s), ALP001)")).to_be_visible()
        # Nothing of the other delegation.
        await expect(page.get_by_text(other["code"])).to_have_count(0)
        await expect(page.get_by_text("ailleurs.csv")).to_have_count(0)
        await expect(week).to_have_count(1)
        await snap(page, f"i21-home-{'js' if javascript else 'nojs'}")

        # Each line leads to where it is acted on.
        await row.get_by_role("link", name=f"{never} apprenant(s) à relancer").click()
        await page.get_by_role("heading", name="Vue d'ensemble des inscrits").wait_for()
        await expect(page.get_by_label("État")).to_have_value("inactive")
        await expect(page.locator("table.progress-table tbody tr")).to_have_count(never)
        await page.go_back()
        await page.get_by_role("link", name="1 convocation(s) non envoyée(s) — " + mine["full_name"]).click()
        await page.get_by_text("préparation impossible (5 essais)").wait_for()
    finally:
        await context.close()
