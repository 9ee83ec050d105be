"""Changing a session's dates in Chromium, JavaScript on and off (issue 20): saving says
« Enregistrer préviendra N inscrits » with the choice not to send, offers to rename a session whose
name states its old dates (the proposed name shown), and the learners get one mail saying what
changed (before → after)."""

from datetime import timedelta

import pytest
from playwright.async_api import expect

from app.services import convocations
from app.services.enrolments import add_sources
from app.tables.catalogue import TrainingSession
from app.tables.learning import SourceKind
from tests.browser.helpers import browser_login, snap
from tests.services.test_convocations import age_notices, learners, make_session

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_moving_the_start_asks_who_to_tell_and_offers_the_new_name(browser, live_server, demo, run_jobs, smtp,
                                                                        redis_client, javascript):
    session_id = await make_session()
    session = await TrainingSession.select().where(TrainingSession.id == session_id).first()
    start, end = session["start_date"], session["end_date"]
    old_name = f"Session du {start:%d-%m-%Y} au {end:%d-%m-%Y}_Qualité de vie au travail"
    await TrainingSession.update({TrainingSession.full_name: old_name}).where(TrainingSession.id == session_id)
    await add_sources(session_id, await learners(count=2), SourceKind.manual)
    await convocations.dispatch_pending(redis_client)
    await run_jobs()
    assert len(smtp.messages) == 2  # their convocations
    smtp.messages.clear()

    tag = "js" if javascript else "nojs"
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR")
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "alp001.get")
        await page.goto(f"{live_server}/sessions/{session_id}/parametres")
        new_start = start - timedelta(days=1)
        await page.get_by_label("Date de début").fill(new_start.isoformat())
        await page.get_by_role("button", name="Enregistrer et afficher").click()
        panel = page.locator("#confirmation")
        await expect(panel).to_contain_text("Enregistrer préviendra 2 inscrits (changent : dates)")
        new_name = f"Session du {new_start:%d-%m-%Y} au {end:%d-%m-%Y}_Qualité de vie au travail"
        await expect(page.locator("#proposed-name")).to_have_text(new_name)
        await expect(page.get_by_label("Date de début")).to_have_value(new_start.isoformat())  # kept as typed
        await snap(page, f"session-change-confirm-{tag}")
        assert (await TrainingSession.select(TrainingSession.start_date).where(
            TrainingSession.id == session_id).first())["start_date"] == start  # nothing saved yet
        await page.get_by_role("button", name="Enregistrer et prévenir 2 inscrits").click()
        await expect(page.get_by_text("les inscrits concernés sont prévenus")).to_be_visible()
        saved = await TrainingSession.select().where(TrainingSession.id == session_id).first()
        assert saved["start_date"] == new_start and saved["full_name"] == new_name
        await age_notices()
        await convocations.request_build(redis_client, session_id, f"browser-{tag}")
        await run_jobs()
        assert len(smtp.messages) == 2
        body = smtp.messages[0][1].get_body(("plain",)).get_content()
        assert "Ce qui change :" in body and "Dates : du " in body and " → du " in body
        assert "- Lieu" not in body  # the place posted back unchanged (CRLF lines) is no change

        # Again, « Enregistrer sans prévenir »: saved, no one mailed.
        smtp.messages.clear()
        await page.goto(f"{live_server}/sessions/{session_id}/parametres")
        await page.get_by_label("Lieu").fill("Salle Durance")
        await page.get_by_role("button", name="Enregistrer et afficher").click()
        await expect(page.locator("#confirmation")).to_contain_text("Enregistrer préviendra 2 inscrits")
        await page.get_by_role("button", name="Enregistrer sans prévenir").click()
        await expect(page.get_by_text("sans prévenir les inscrits")).to_be_visible()
        await age_notices()
        await convocations.request_build(redis_client, session_id, f"browser-quiet-{tag}")
        await run_jobs()
        assert smtp.messages == []
    finally:
        await context.close()
