"""Satisfaction surveys over HTTP (issue 23): the questionnaire in the activity editor (catalogue and
session), the learner's answering page, the mail's signed link without login, scope, the settings
page, and the financers' yearly survey end to end."""

import json
import re
from datetime import date, datetime, timedelta, timezone

from itsdangerous import URLSafeTimedSerializer

from app.dates import now
from app.services.sessions import content_import
from app.services.surveys import answer as answering, financers
from app.services.surveys import invitations
from app.services.surveys.links import LEARNER_SALT, make_token
from app.services.surveys.questions import parse_survey_text
from app.services.surveys.settings import HOT_MODEL
from app.tables.catalogue import CourseTemplate, SessionActivity, TemplateActivity
from app.tables.quality import FinancerInvitation, FinancerSurvey, SurveyInvitation, SurveyResponse
from app.tables.registration import Organisation, RegistrationRequest
from tests import factories
from tests.helpers import login, post_form, text
from tests.surveys_helpers import GOOD, SMALL, survey_session, username


# -- the editor ------------------------------------------------------------------------------------
async def test_a_questionnaire_is_made_edited_and_copied_with_the_activity_editor(client, redis_client):
    await login(client, "admin")
    template = (await CourseTemplate.select(CourseTemplate.id).first())["id"]
    added = await post_form(client, f"/catalogue/{template}/activites", {"kind": "survey", "title": "Votre avis",
                                                                        "required": "1"})
    assert added.status_code == 303
    activity = await TemplateActivity.select().where(TemplateActivity.kind == "survey").first()
    # A new questionnaire starts from the « à chaud » model; it never counts for completion.
    assert parse_survey_text(HOT_MODEL) == json.loads(activity["quiz"])
    assert activity["survey_phase"] == "hot" and not activity["required"] and activity["completion"] == "none"
    page = await client.get(f"/catalogue/{template}/activites/{activity['id']}")
    assert "Réponses anonymes" in page.text and "À froid (N jours après)" in page.text
    assert "Dans l&#39;ensemble, êtes-vous satisfait(e) de cette formation ?\n[échelle 1-5]" in page.text

    # Edited: the text round-trips; an error names its question and keeps what was typed.
    form = {"kind": "survey", "title": "Votre avis", "survey_phase": "cold", "anonymous": "1", "survey_text": SMALL}
    saved = await post_form(client, f"/catalogue/{template}/activites/{activity['id']}", form)
    assert saved.status_code == 303
    row = await TemplateActivity.select().where(TemplateActivity.id == activity["id"]).first()
    assert json.loads(row["quiz"]) == parse_survey_text(SMALL) and row["survey_phase"] == "cold" and row["anonymous"]
    again = await client.get(f"/catalogue/{template}/activites/{activity['id']}")
    assert SMALL.replace("'", "&#39;") in again.text
    broken = SMALL + "\n\nEt ensuite ?\n[échelle 0-3]"
    refused = await post_form(client, f"/catalogue/{template}/activites/{activity['id']}", {**form, "survey_text": broken})
    assert refused.status_code == 422
    assert "Question 6 : type « [échelle 0-3] » inconnu" in text(refused.text)
    assert "Et ensuite ?" in refused.text

    # « Partir du modèle », without JavaScript: the form again with the model's questions, nothing saved.
    model = await post_form(client, f"/catalogue/{template}/activites/{activity['id']}",
                            {**form, "survey_model": "cold", "use_model": "1"})
    assert model.status_code == 200 and "Avez-vous pu mettre en pratique ce que vous avez appris ?" in model.text
    assert json.loads((await TemplateActivity.select().where(TemplateActivity.id == activity["id"]).first())["quiz"]) \
        == parse_survey_text(SMALL)

    # The content import copies the questionnaire with its sending and anonymity.
    est = await factories.establishment()
    built = await factories.session_with_learners(est, learners_count=0, slots=1)
    job = await content_import.ContentImport.insert(content_import.ContentImport(
        session=built.id, template=template, activity_ids=str(activity["id"]), status="queued")).returning(
        content_import.ContentImport.id)
    assert await content_import.run_content_import(redis_client, job[0]["id"]) >= 0
    copied = await SessionActivity.select().where(SessionActivity.session == built.id)
    assert [(c["kind"], c["survey_phase"], c["anonymous"], c["quiz"]) for c in copied] == [
        ("survey", "cold", True, row["quiz"])]


# -- the learner -----------------------------------------------------------------------------------
async def test_the_learner_answers_from_the_session_page(client):
    built, activity_id = await survey_session(learners=2, with_password=True)
    me = await username(built.learners[0])
    await login(client, me)
    base = f"/mes-sessions/{built.id}"
    opened = await client.get(f"{base}/activites/{activity_id}")
    assert opened.status_code == 303 and opened.headers["location"] == f"{base}/questionnaires/{activity_id}"
    page = await client.get(f"{base}/questionnaires/{activity_id}")
    assert page.status_code == 200 and "1. Dans l&#39;ensemble, êtes-vous satisfait(e) ?" in page.text

    # Bad input: a French message per question, what was typed kept, nothing recorded.
    typed = {"q0": "6", "q1": "9", "q2": ["0", "9"], "q4": "Mon commentaire gardé"}
    refused = await post_form(client, f"{base}/questionnaires/{activity_id}", typed)
    assert refused.status_code == 422
    body = text(refused.text)
    assert "Question 1 : choisissez une note de 1 à 5." in body and "Question 3 : réponse non reconnue" in body
    assert "Question 4 : une réponse est obligatoire." in body and "Mon commentaire gardé" in refused.text
    assert re.search(r'name="q1" value="9" checked', refused.text)
    assert await SurveyResponse.count() == 0

    sent = await post_form(client, f"{base}/questionnaires/{activity_id}", GOOD)
    assert sent.status_code == 303
    done = text((await client.get(f"{base}/questionnaires/{activity_id}")).text)
    assert "Merci, votre réponse a été enregistrée le" in done and "Envoyer mes réponses" not in done
    twice = await post_form(client, f"{base}/questionnaires/{activity_id}", GOOD)
    assert twice.status_code == 303 and await SurveyResponse.count() == 1


async def test_before_it_opens_and_anonymous_wording(client):
    ahead, activity_id = await survey_session(learners=1, days_ago=0, slots=4, with_password=True)
    await login(client, await username(ahead.learners[0]))
    page = text((await client.get(f"/mes-sessions/{ahead.id}/questionnaires/{activity_id}")).text)
    assert "Ce questionnaire sera ouvert à partir du" in page and "Envoyer mes réponses" not in page
    refused = await post_form(client, f"/mes-sessions/{ahead.id}/questionnaires/{activity_id}", GOOD)
    assert refused.status_code == 422 and "Ce questionnaire n'est pas encore ouvert." in text(refused.text)

    # Without slots, it opens at the learner's completion: no date to give yet.
    plain, plain_id = await survey_session(learners=1, slots=0, with_password=True)
    await login(client, await username(plain.learners[0]))
    page = text((await client.get(f"/mes-sessions/{plain.id}/questionnaires/{plain_id}")).text)
    assert "Ce questionnaire sera ouvert à la fin de la session." in page

    anonymous, anon_id = await survey_session(learners=1, anonymous=True, with_password=True)
    await login(client, await username(anonymous.learners[0]))
    form = text((await client.get(f"/mes-sessions/{anonymous.id}/questionnaires/{anon_id}")).text)
    assert "Vos réponses sont anonymes" in form
    await post_form(client, f"/mes-sessions/{anonymous.id}/questionnaires/{anon_id}", GOOD)
    done = text((await client.get(f"/mes-sessions/{anonymous.id}/questionnaires/{anon_id}")).text)
    assert "Vous avez répondu à ce questionnaire." in done and "enregistrée le" not in done


async def test_a_learner_cannot_answer_another_sessions_survey(client):
    mine, my_survey = await survey_session(learners=1, with_password=True)
    other, other_survey = await survey_session(learners=1)
    await login(client, await username(mine.learners[0]))
    for url in (f"/mes-sessions/{other.id}/questionnaires/{other_survey}",  # not enrolled there
                f"/mes-sessions/{mine.id}/questionnaires/{other_survey}"):  # another session's survey under mine
        assert (await client.get(url)).status_code == 404
        assert (await post_form(client, url, GOOD)).status_code == 404
    assert await SurveyResponse.count() == 0


# -- the mail's link -------------------------------------------------------------------------------
async def test_the_mail_link_answers_without_login_and_only_that_survey(client, new_client, redis_client, clock):
    built, activity_id = await survey_session(learners=2)
    await invitations.run_survey_mails(redis_client)
    invitation = await SurveyInvitation.select().where(SurveyInvitation.enrolment == built.enrolments[built.learners[0]]).first()
    token = make_token(LEARNER_SALT, invitation["id"])
    async with new_client() as phone:
        page = await phone.get(f"/questionnaire/{token}")
        assert page.status_code == 200 and "Votre avis à chaud" in page.text and "Envoyer mes réponses" in page.text
        assert "no-store" in page.headers["cache-control"]
        refused = await post_form(phone, f"/questionnaire/{token}", {**GOOD, "q4": "x" * 1_000_000})
        assert refused.status_code == 422 and "Question 5 : votre réponse dépasse 5 000 caractères" in text(refused.text)
        sent = await post_form(phone, f"/questionnaire/{token}", GOOD)
        assert sent.status_code == 303
        assert "Merci, votre réponse a été enregistrée le" in text((await phone.get(f"/questionnaire/{token}")).text)
        assert (await post_form(phone, f"/questionnaire/{token}", GOOD)).status_code == 303
        # Forged: another id signed with another key, a token cut short — a French page, nothing recorded.
        forged = URLSafeTimedSerializer("not-our-key", salt=LEARNER_SALT).dumps({"id": invitation["id"] + 1})
        for bad in (forged, token[:-3] + "abc", "n-importe-quoi"):
            problem = await phone.get(f"/questionnaire/{bad}")
            assert problem.status_code == 400 and "Ce lien n'est pas valide" in text(problem.text)
            assert (await post_form(phone, f"/questionnaire/{bad}", GOOD)).status_code == 400
        # A well-signed link to an invitation that does not exist answers like a missing survey.
        assert (await phone.get(f"/questionnaire/{make_token(LEARNER_SALT, 999999)}")).status_code == 404
        # Expired: 121 days later.
        second = await SurveyInvitation.select().where(
            SurveyInvitation.enrolment == built.enrolments[built.learners[1]]).first()
        old = make_token(LEARNER_SALT, second["id"])
        clock.advance(121 * 86400)
        expired = await phone.get(f"/questionnaire/{old}")
        assert expired.status_code == 400 and "Ce lien a expiré" in text(expired.text)
        assert (await post_form(phone, f"/questionnaire/{old}", GOOD)).status_code == 400
    assert await SurveyResponse.count() == 1


# -- settings and financers ------------------------------------------------------------------------
async def test_the_settings_page_keeps_models_and_delays(client):
    await login(client, "admin")
    page = await client.get("/catalogue/questionnaires/")
    assert page.status_code == 200 and "Satisfaction à froid" in page.text and 'value="60"' in page.text
    form = {"survey_cold_days": "45", "survey_reminder_1_days": "5", "survey_reminder_2_days": "12",
            "model_hot": SMALL, "model_cold": SMALL, "model_financers": SMALL}
    bad = await post_form(client, "/catalogue/questionnaires/", {**form, "survey_reminder_2_days": "3",
                                                                  "model_cold": "Q\n[note]"})
    assert bad.status_code == 422 and "La seconde relance part après la première" in text(bad.text)
    assert "Question 1 : type « [note] » inconnu" in text(bad.text)
    assert (await post_form(client, "/catalogue/questionnaires/", form)).status_code == 303
    again = await client.get("/catalogue/questionnaires/")
    assert 'value="45"' in again.text and "Recommanderiez-vous cette formation ?" in again.text
    await login(client, "alp001.get")
    assert (await client.get("/catalogue/questionnaires/")).status_code == 403


async def test_the_financers_survey_end_to_end(client, new_client, redis_client, run_jobs, smtp):
    year = date.today().year - 1
    inside = datetime(year, 6, 1, 10, tzinfo=timezone.utc)
    orgs = await Organisation.insert(
        Organisation(name="Commune de Belleville", validation_email="mairie@belleville.example"),
        Organisation(name="Syndicat sans adresse", validation_email=""),
        Organisation(name="Commune d'une autre année", validation_email="mairie@autre.example"),
    ).returning(Organisation.id)
    ids = [o["id"] for o in orgs]
    await RegistrationRequest.insert(
        RegistrationRequest(reference="R-1", status="completed", organisation=ids[0], submitted_at=inside),
        RegistrationRequest(reference="R-2", status="confirmed", organisation=ids[0], submitted_at=inside),
        RegistrationRequest(reference="R-3", status="completed", organisation=ids[1], submitted_at=inside),
        RegistrationRequest(reference="R-4", status="completed", organisation=ids[2],
                            submitted_at=inside + timedelta(days=400)),
    )
    await login(client, "inscriptions")
    page = await client.get(f"/catalogue/questionnaires/financeurs/?year={year}")
    assert page.status_code == 200 and "2 structure(s) ont adressé une demande, dont 1 avec une adresse" in text(page.text)
    launched = await post_form(client, "/catalogue/questionnaires/financeurs/", {"year": str(year)})
    assert launched.status_code == 303
    twice = await post_form(client, "/catalogue/questionnaires/financeurs/", {"year": str(year)})
    assert twice.status_code == 422 and f"L'enquête financeurs {year} est déjà lancée." in text(twice.text)
    survey = await FinancerSurvey.select().where(FinancerSurvey.year == year).first()
    assert survey["title"] == f"Enquête financeurs {year}" and json.loads(survey["questions"])
    invited = await FinancerInvitation.select().where(FinancerInvitation.survey == survey["id"])
    assert [(i["organisation"], i["email"]) for i in invited] == [(ids[0], "mairie@belleville.example")]
    await run_jobs()
    assert [tos for tos, _ in smtp.messages] == [["mairie@belleville.example"]]
    body = smtp.messages[0][1].get_content()
    link = re.search(r"http://testserver\.local(/enquete-financeurs/\S+)", body).group(1)

    listing = text((await client.get(f"/catalogue/questionnaires/financeurs/{year}")).text)
    assert "Commune de Belleville" in listing and "En attente" in listing

    questions = json.loads(survey["questions"])
    answers = {f"q{i}": ("3" if q["type"].startswith("scale") else "0") for i, q in enumerate(questions)
               if q["required"]}
    async with new_client() as financer:
        form = await financer.get(link)
        assert form.status_code == 200 and "Commune de Belleville" in form.text
        missing = await post_form(financer, link, {})
        assert missing.status_code == 422 and "Question 1 : une réponse est obligatoire." in text(missing.text)
        assert (await post_form(financer, link, answers)).status_code == 303
        assert (await post_form(financer, link, answers)).status_code == 303
        assert "la réponse de votre structure a été enregistrée" in text((await financer.get(link)).text)
    responses = await SurveyResponse.select().where(SurveyResponse.financer_survey == survey["id"])
    assert len(responses) == 1 and responses[0]["organisation"] == ids[0] and responses[0]["activity"] is None
    assert "Répondu le" in text((await client.get(f"/catalogue/questionnaires/financeurs/{year}")).text)

    # Reminders stop once answered; a learner may not launch anything.
    assert await financers.mail_reminders(redis_client, now() + timedelta(days=30), 7, 14) == 0
    await login(client, "alp001.get")
    assert (await client.get("/catalogue/questionnaires/financeurs/")).status_code == 403


async def test_the_session_content_editor_makes_a_questionnaire_and_keeps_it_once_answered(client):
    built, survey_id = await survey_session(learners=1)
    await login(client, "admin")
    base = f"/sessions/{built.id}/contenu"
    added = await post_form(client, base + "/", {"kind": "survey", "title": "Votre avis à froid"})
    assert added.status_code == 303
    new = await SessionActivity.select().where(SessionActivity.title == "Votre avis à froid").first()
    form = {"kind": "survey", "title": "Votre avis à froid", "survey_phase": "cold", "survey_text": SMALL}
    model = await post_form(client, f"{base}/{new['id']}", {**form, "survey_model": "cold", "use_model": "1"})
    assert model.status_code == 200 and "Avec le recul, êtes-vous satisfait(e) de la formation suivie ?" in model.text
    assert (await post_form(client, f"{base}/{new['id']}", form)).status_code == 303
    row = await SessionActivity.select().where(SessionActivity.id == new["id"]).first()
    assert row["survey_phase"] == "cold" and json.loads(row["quiz"]) == parse_survey_text(SMALL)
    preview = text((await client.get(f"{base}/{new['id']}/apercu")).text)
    assert "Questionnaire à froid" in preview and "3. Qu'avez-vous préféré ? (choix multiple)" in preview
    assert "5. Vos commentaires (texte libre, facultative)" in preview
    # Once a learner has answered, the questionnaire is retired, never deleted.
    await post_form(client, f"{base}/{survey_id}/supprimer", {})  # nobody answered yet: deleted
    assert not await SessionActivity.exists().where(SessionActivity.id == survey_id)
    other, answered_id = await survey_session(learners=1)
    session_row = {"id": other.id, "start_date": other.slots[0].day}
    activity = await SessionActivity.select().where(SessionActivity.id == answered_id).first()
    assert await answering.answer(session_row, other.enrolments[other.learners[0]], None, activity, GOOD)
    refused = await post_form(client, f"/sessions/{other.id}/contenu/{answered_id}/supprimer", {})
    assert refused.status_code == 303 and await SessionActivity.exists().where(SessionActivity.id == answered_id)
