"""Issue 23's « done means »: a learner opens the link of the à chaud survey's mail on a phone,
without logging in, and answers — with JavaScript on and off."""

import re

import pytest
from playwright.async_api import expect

from app.services.surveys import invitations
from app.services.surveys.settings import HOT_MODEL
from app.tables.quality import SurveyInvitation, SurveyResponse
from tests import processes
from tests.browser.helpers import snap
from tests.surveys_helpers import survey_session

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_a_learner_answers_the_hot_survey_from_the_mail_on_a_phone(browser, live_server, clean, smtp,
                                                                         redis_client, run_jobs, javascript):
    built, activity_id = await survey_session(learners=1, questions=HOT_MODEL)
    await invitations.run_survey_mails(redis_client)
    await run_jobs()

    async def mailed():
        return smtp.messages

    await processes.until(mailed, "the survey mail")
    body = smtp.messages[0][1].get_content()
    link = re.search(r"http://testserver\.local(/questionnaire/\S+)", body).group(1)

    context = await browser.new_context(java_script_enabled=javascript, locale="fr-FR",
                                        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = await context.new_page()
    try:
        await page.goto(live_server + link)
        await expect(page.get_by_role("heading", name="Votre avis à chaud")).to_be_visible()
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
        questions = page.locator("fieldset.survey-question")
        await expect(questions).to_have_count(9)
        await questions.nth(0).get_by_label("4", exact=True).check()
        await questions.nth(1).get_by_label("En grande partie").check()
        for n in (2, 3, 4, 5):
            await questions.nth(n).get_by_label("5", exact=True).check()
        await questions.nth(6).get_by_label("Les exercices et mises en situation").check()
        await questions.nth(6).get_by_label("Les échanges avec le groupe").check()
        await questions.nth(7).get_by_label("9", exact=True).check()
        await questions.nth(8).get_by_role("textbox").fill("Formation très concrète, merci !")
        await snap(page, f"survey-phone-{'js' if javascript else 'nojs'}")
        await page.get_by_role("button", name="Envoyer mes réponses").click()
        await expect(page.get_by_text("Merci, votre réponse a été enregistrée le")).to_be_visible()
        await expect(page.get_by_role("button", name="Envoyer mes réponses")).to_have_count(0)
    finally:
        await context.close()
    response = await SurveyResponse.select().where(SurveyResponse.activity == activity_id).first()
    assert response["enrolment"] == built.enrolments[built.learners[0]]
    assert '"6": [1, 2]' in response["answers"] and "Formation très concrète, merci !" in response["answers"]
    assert (await SurveyInvitation.select().first())["answered"]
