"""Convocations in Chromium (issue 12, X2), JavaScript on and off: the GET sends a session's
convocations from its page (a job, the progress page), the learner downloads their own."""

import pytest
from pypdf import PdfReader

from app.services.enrolments import add_sources
from app.tables.accounts import User
from app.tables.learning import SourceKind
from tests.browser.helpers import browser_login, snap
from tests.services.test_convocations import learners, make_session

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_send_the_convocations_then_the_learner_downloads_theirs(browser, live_server, demo, run_jobs, smtp,
                                                                      javascript):
    session_id = await make_session(auto=False)
    people = await learners(count=2)
    await add_sources(session_id, people, SourceKind.manual)
    tag = "js" if javascript else "nojs"
    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR", accept_downloads=True)
    page = await context.new_page()
    try:
        await browser_login(page, live_server, "alp001.get")
        await page.goto(f"{live_server}/sessions/{session_id}")
        await page.get_by_role("link", name="Envoyer les convocations").click()
        await page.get_by_text("Jamais convoqués").wait_for()
        await snap(page, f"convocations-send-{tag}")
        await page.get_by_role("button", name="Envoyer les convocations").click()
        await page.wait_for_url("**/taches/*")
        await run_jobs()
        await page.get_by_role("link", name="Revenir à la session").wait_for()
        assert sorted(m["Subject"] for _, m in smtp.messages) == ["Convocation : Qualité de vie au travail"] * 2
        await page.goto(f"{live_server}/sessions/{session_id}/parametres")
        await snap(page, f"convocations-settings-{tag}")

        username = (await User.select(User.username).where(User.id == people[0]).first())["username"]
        learner = await (await browser.new_context(java_script_enabled=javascript, locale="fr-FR",
                                                   accept_downloads=True)).new_page()
        await browser_login(learner, live_server, username)
        await snap(learner, f"convocations-learner-home-{tag}")
        async with learner.expect_download() as info:
            await learner.get_by_role("link", name="Ma convocation (PDF)").click()
        download = await info.value
        assert download.suggested_filename.startswith("convocation-26C03S9-")
        text = PdfReader(await download.path()).pages[0].extract_text()
        assert "Convocation à la formation" in text
        async with learner.expect_download() as info:
            await learner.get_by_role("link", name="Ajouter à mon agenda (.ics)").click()
        assert (await info.value).suggested_filename == "invitation-26C03S9.ics"
    finally:
        await context.close()
