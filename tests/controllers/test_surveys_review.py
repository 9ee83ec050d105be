"""Satisfaction surveys, answering side — the review's findings (issue 23): a questionnaire (or an
entry/exit assessment quiz) keeps its structure once answered, anonymity leaves no per-person
trace, the hot survey waits for a blended session's end date, questionnaires too large to answer
are refused, control characters are stripped from free texts, the learner is told the training by
its course title, and the financers' page opens on a year with someone to ask."""

import json
import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app.dates import now
from app.services.errors import ValidationFailed
from app.services.learner import parse_quiz_text
from app.services.surveys import invitations
from app.services.surveys.invitations import opening, survey_mail, training_name
from app.services.surveys.links import LEARNER_SALT, make_token
from app.services.surveys.questions import STRUCTURE_KEPT, parse_survey_text, read_answers, structure_kept
from app.tables.accounts import User
from app.tables.catalogue import CourseTemplate, SessionActivity, TrainingSession
from app.tables.learning import QuizAttempt
from app.tables.quality import SurveyInvitation, SurveyResponse
from app.tables.registration import Organisation, RegistrationRequest
from tests.helpers import login, post_form, text
from tests.surveys_helpers import GOOD, SMALL, survey_session, username

PARIS = ZoneInfo("Europe/Paris")


# -- 1. the structure of an answered questionnaire, or of an assessment quiz with attempts --------
REWORDED = (SMALL.replace("Dans l'ensemble, êtes-vous satisfait(e) ?", "Globalement, êtes-vous satisfait(e) ?")
            .replace("- Les supports", "- Les supports remis"))
REORDERED = "\n\n".join([SMALL.split("\n\n")[1], SMALL.split("\n\n")[0], *SMALL.split("\n\n")[2:]])
RESTRUCTURED = {
    "reordered": REORDERED,
    "one question more": SMALL + "\n\nUne question de plus\n[échelle 1-5]",
    "one question less": "\n\n".join(SMALL.split("\n\n")[:-1]),
    "a type changed": SMALL.replace("[échelle 1-10]", "[échelle 1-5]"),
    "a choice more": SMALL.replace("- Les supports", "- Les supports\n- Le lieu"),
}


def test_structure_kept_compares_everything_but_wordings():
    before = parse_survey_text(SMALL)
    assert structure_kept("survey", before, parse_survey_text(REWORDED))
    for changed in RESTRUCTURED.values():
        assert not structure_kept("survey", before, parse_survey_text(changed))
    quiz = parse_quiz_text("[Objectif 1] Q1\n* A\n- B\n\nQ2\n- A\n* B\n* C")
    assert structure_kept("quiz", quiz, parse_quiz_text("[Objectif 1] Question 1\n* Alpha\n- Beta\n\nQ2\n- A\n* B\n* C"))
    for changed in ("[Objectif 1] Q1\n- A\n* B\n\nQ2\n- A\n* B\n* C",  # the right answer moved
                    "[Objectif 2] Q1\n* A\n- B\n\nQ2\n- A\n* B\n* C",  # another objective
                    "Q1\n* A\n- B\n\nQ2\n- A\n* B\n* C",  # the tag removed
                    "[Objectif 1] Q1\n* A\n- B\n- C\n\nQ2\n- A\n* B\n* C"):  # a choice more
        assert not structure_kept("quiz", quiz, parse_quiz_text(changed))


def _form(**more):
    return {"kind": "survey", "title": "Votre avis à chaud", "survey_phase": "hot", "survey_text": SMALL, **more}


async def test_an_answered_questionnaire_keeps_its_structure(client):
    built, activity_id = await survey_session(learners=2)
    await login(client, "admin")
    url = f"/sessions/{built.id}/contenu/{activity_id}"
    # Nobody invited yet: anything may change.
    assert (await post_form(client, url, _form(survey_text=REORDERED))).status_code == 303
    assert (await post_form(client, url, _form())).status_code == 303
    # Once someone is invited: only wordings.
    await SurveyInvitation.insert(SurveyInvitation(enrolment=built.enrolments[built.learners[0]],
                                                   activity=activity_id, opens_at=now()))
    for name, changed in RESTRUCTURED.items():
        refused = await post_form(client, url, _form(survey_text=changed))
        assert refused.status_code == 422, name
        assert STRUCTURE_KEPT in text(refused.text), name
    for changed in ({"survey_phase": "cold"}, {"anonymous": "1"}, {"survey_phase": ""}):
        refused = await post_form(client, url, _form(**changed))
        assert refused.status_code == 422 and "son envoi et l'anonymat de ses réponses ne peuvent plus changer" \
            in text(refused.text)
    refused = await post_form(client, url, _form(kind="page"))
    assert refused.status_code == 422 and STRUCTURE_KEPT in text(refused.text)
    assert json.loads((await SessionActivity.select().where(SessionActivity.id == activity_id).first())["quiz"]) \
        == parse_survey_text(SMALL)
    # A wording corrected is saved; the answers keep their meaning.
    assert (await post_form(client, url, _form(survey_text=REWORDED))).status_code == 303
    saved = await SessionActivity.select().where(SessionActivity.id == activity_id).first()
    assert json.loads(saved["quiz"]) == parse_survey_text(REWORDED)


async def test_an_assessment_quiz_with_attempts_keeps_its_structure(client):
    built, _ = await survey_session(learners=1)
    quiz = "[Objectif 1] Q1\n* A\n- B\n\nQ2\n- A\n* B"
    activity_id = (await SessionActivity.insert(SessionActivity(
        session=built.id, kind="quiz", title="Évaluation finale", required=False, completion="quiz",
        quiz=json.dumps(parse_quiz_text(quiz), ensure_ascii=False), pass_mark=80, assessment="exit",
    )).returning(SessionActivity.id))[0]["id"]
    template = (await CourseTemplate.insert(CourseTemplate(code="Z92", title="Bientraitance", short_name="BT",
                                                           objectives="Repérer\nAgir")).returning(CourseTemplate.id))
    await TrainingSession.update({TrainingSession.template: template[0]["id"]}).where(TrainingSession.id == built.id)
    await login(client, "admin")
    url = f"/sessions/{built.id}/contenu/{activity_id}"
    form = {"kind": "quiz", "title": "Évaluation finale", "pass_mark": "80", "assessment": "exit", "quiz_text": quiz}
    first = await post_form(client, url, form)
    assert first.status_code == 303, re.findall(r"class=\"error\"[^>]*>([^<]*)", first.text)  # no attempt yet
    await QuizAttempt.insert(QuizAttempt(enrolment=built.enrolments[built.learners[0]], activity=activity_id,
                                         answers=json.dumps({"0": [0], "1": [1]}), score=100, passed=True))
    for changed in ("[Objectif 1] Q1\n- A\n* B\n\nQ2\n- A\n* B", "Q2\n- A\n* B\n\n[Objectif 1] Q1\n* A\n- B",
                    "Q1\n* A\n- B\n\nQ2\n- A\n* B"):
        refused = await post_form(client, url, {**form, "quiz_text": changed})
        assert refused.status_code == 422 and "Ce test d'évaluation a déjà des tentatives" in text(refused.text)
    assert (await post_form(client, url, {**form, "assessment": "entry"})).status_code == 422
    assert (await post_form(client, url, {**form, "quiz_text": quiz.replace("Q1", "Première question")})
            ).status_code == 303


# -- 2. anonymity --------------------------------------------------------------------------------
async def test_anonymous_invitation_is_made_when_shown_and_keeps_no_trace_once_answered(client, new_client):
    built, activity_id = await survey_session(learners=2, anonymous=True, with_password=True)
    me = built.learners[0]
    enrolment = built.enrolments[me]
    await login(client, await username(me))
    page_url = f"/mes-sessions/{built.id}/questionnaires/{activity_id}"
    assert (await client.get(page_url)).status_code == 200
    # Shown: the invitation exists before any answer (made in its own transaction).
    made = await SurveyInvitation.select().where(SurveyInvitation.enrolment == enrolment).first()
    assert made is not None and not made["answered"]
    await SurveyInvitation.update({SurveyInvitation.reminders: 1, SurveyInvitation.reminded_at: now()}).where(
        SurveyInvitation.id == made["id"])
    assert (await post_form(client, page_url, GOOD)).status_code == 303
    row = await SurveyInvitation.select().where(SurveyInvitation.id == made["id"]).first()
    assert row["answered"] and row["answered_on"] is None and row["reminded_at"] is None and row["reminders"] == 1
    done = text((await client.get(page_url)).text)
    assert done.count("Merci") == 1  # one thank-you box, no flash on top

    # The mail's link of an anonymous survey does not greet the person by name.
    other = built.learners[1]
    first_name = (await User.select(User.first_name).where(User.id == other).first())["first_name"]
    invitation = (await SurveyInvitation.insert(SurveyInvitation(
        enrolment=built.enrolments[other], activity=activity_id, opens_at=now())).returning(SurveyInvitation.id))[0]
    async with new_client() as phone:
        page = text((await phone.get(f"/questionnaire/{make_token(LEARNER_SALT, invitation['id'])}")).text)
    assert "Vos réponses sont anonymes" in page and first_name not in page and "bonjour" not in page.lower()


async def test_a_named_survey_makes_no_invitation_when_shown_and_greets_by_link(client, new_client):
    built, activity_id = await survey_session(learners=1, with_password=True)
    me = built.learners[0]
    await login(client, await username(me))
    assert (await client.get(f"/mes-sessions/{built.id}/questionnaires/{activity_id}")).status_code == 200
    assert await SurveyInvitation.count().where(SurveyInvitation.activity == activity_id) == 0
    invitation = (await SurveyInvitation.insert(SurveyInvitation(
        enrolment=built.enrolments[me], activity=activity_id, opens_at=now())).returning(SurveyInvitation.id))[0]
    first_name = (await User.select(User.first_name).where(User.id == me).first())["first_name"]
    token = make_token(LEARNER_SALT, invitation["id"])
    async with new_client() as phone:
        assert f"Bonjour {first_name}" in text((await phone.get(f"/questionnaire/{token}")).text)
        assert (await post_form(phone, f"/questionnaire/{token}", GOOD)).status_code == 303
        done = text((await phone.get(f"/questionnaire/{token}")).text)
    assert done.count("Merci") == 1 and "Merci, votre réponse a été enregistrée le" in done


# -- 3. the hot survey waits for the session's end date -------------------------------------------
def test_hot_opens_at_the_later_of_the_last_slot_and_the_end_date():
    slot_day, end = date(2026, 11, 10), date(2027, 1, 15)
    hot = opening("hot", date(2026, 11, 9), (slot_day, time(17)), None, 60, end)
    assert hot == datetime(2027, 1, 15, 17, tzinfo=PARIS).astimezone(timezone.utc)
    cold = opening("cold", date(2026, 11, 9), (slot_day, time(17)), None, 60, end)
    assert cold == hot + timedelta(days=60)
    # The last slot ending later than 17:00 on the end date: the slot's end.
    late = opening("hot", slot_day, (slot_day, time(18, 30)), None, 60, slot_day)
    assert late == datetime(2026, 11, 10, 18, 30, tzinfo=PARIS).astimezone(timezone.utc)
    # Without slots (e-learning): at the learner's completion, whatever the end date.
    done = datetime(2026, 12, 1, 9, tzinfo=timezone.utc)
    assert opening("hot", slot_day, None, done, 60, end) == done


async def test_a_blended_session_is_not_surveyed_before_its_end_date(client, redis_client):
    built, activity_id = await survey_session(learners=2, days_ago=20, with_password=True)
    end = date.today() + timedelta(days=30)
    await TrainingSession.update({TrainingSession.end_date: end}).where(TrainingSession.id == built.id)
    assert (await invitations.run_survey_mails(redis_client))["created"] == 0
    await login(client, await username(built.learners[0]))
    page = text((await client.get(f"/mes-sessions/{built.id}/questionnaires/{activity_id}")).text)
    assert "Ce questionnaire sera ouvert à partir du" in page and "Envoyer mes réponses" not in page
    refused = await post_form(client, f"/mes-sessions/{built.id}/questionnaires/{activity_id}", GOOD)
    assert refused.status_code == 422 and await SurveyResponse.count() == 0
    after = datetime.combine(end + timedelta(days=1), time(9), PARIS).astimezone(timezone.utc)
    assert (await invitations.run_survey_mails(redis_client, after))["created"] == 2
    opens = {r["opens_at"] for r in await SurveyInvitation.select().where(SurveyInvitation.activity == activity_id)}
    assert opens == {datetime.combine(end, time(17), PARIS).astimezone(timezone.utc)}


# -- 4. questionnaires too large to answer ---------------------------------------------------------
def _questions(n: int, choices: int) -> str:
    return "\n\n".join(f"Question {i}\n[choix multiple]\n" + "\n".join(f"- Choix {c}" for c in range(choices))
                       for i in range(n))


def test_questionnaires_too_large_to_answer_are_refused():
    assert len(parse_survey_text(_questions(60, 2))) == 60
    assert len(parse_survey_text(_questions(38, 20))) == 38  # 38 + 760 = 798
    for too_large, message in ((_questions(61, 2), "au plus 60 questions"),
                               (_questions(1, 21), "Question 1 : au plus 20 réponses possibles."),
                               (_questions(40, 20), "trop long pour être rempli en une fois : 840")):
        with pytest.raises(ValidationFailed) as refused:
            parse_survey_text(too_large)
        assert message in refused.value.errors["survey"]


async def test_the_editor_refuses_a_questionnaire_too_large(client):
    built, activity_id = await survey_session(learners=1)
    await login(client, "admin")
    refused = await post_form(client, f"/sessions/{built.id}/contenu/{activity_id}",
                              _form(survey_text=_questions(50, 20)))
    assert refused.status_code == 422 and "trop long pour être rempli en une fois" in text(refused.text)


# -- 5. control characters of free texts ----------------------------------------------------------
def test_free_text_answers_lose_their_control_characters():
    questions = parse_survey_text(SMALL)
    answers = read_answers(questions, {**GOOD, "q4": ["Bien\x00 vu\x1b[31m\tsuite\r\nligne 2\x07\x85fin\x7f"]})
    assert answers["4"] == "Bien vu[31m\tsuite\nligne 2\nfin"


# -- 6. wording ----------------------------------------------------------------------------------
def test_the_mail_names_the_training_by_its_course_and_says_the_kind_once():
    row = {"id": 1, "email": "a@example.org", "first_name": "Théo", "template_title": "Qualité de vie au travail",
           "session_name": "Session du 27-10-2026 au 28-10-2026_Qualité de vie au travail",
           "start_date": date(2026, 10, 27), "end_date": date(2026, 10, 28),
           "title": "Questionnaire de satisfaction à chaud", "phase": "hot", "anonymous": False}
    _, subject, body, _, _ = survey_mail(row, 0)
    assert subject == "Votre avis sur la formation « Qualité de vie au travail »"
    assert "la formation « Qualité de vie au travail » du 27 octobre 2026 au 28 octobre 2026" in body
    assert "Session du" not in body and body.lower().count("questionnaire de satisfaction") == 1
    assert "Vous avez suivi" in body
    ahead = {**row, "start_date": date.today(), "end_date": date.today() + timedelta(days=40)}
    assert "Vous participez à la formation" in survey_mail(ahead, 0)[2]
    assert training_name("Session fabriquée", None, date(2026, 3, 2), date(2026, 3, 2)) == \
        "« Session fabriquée » le 2 mars 2026"


async def test_the_survey_pages_name_the_training_by_its_course(client, new_client):
    built, activity_id = await survey_session(learners=1, with_password=True)
    template = (await CourseTemplate.insert(CourseTemplate(code="Z91", title="Qualité de vie au travail",
                                                           short_name="QVT")).returning(CourseTemplate.id))[0]["id"]
    await TrainingSession.update({TrainingSession.template: template}).where(TrainingSession.id == built.id)
    me = built.learners[0]
    await login(client, await username(me))
    page = text((await client.get(f"/mes-sessions/{built.id}/questionnaires/{activity_id}")).text)
    assert "Formation « Qualité de vie au travail »" in page
    invitation = (await SurveyInvitation.insert(SurveyInvitation(
        enrolment=built.enrolments[me], activity=activity_id, opens_at=now())).returning(SurveyInvitation.id))[0]
    async with new_client() as phone:
        public = text((await phone.get(f"/questionnaire/{make_token(LEARNER_SALT, invitation['id'])}")).text)
    assert "la formation « Qualité de vie au travail »" in public and "Session fabriquée" not in public


# -- 7. the financers' launch page ---------------------------------------------------------------
async def test_the_financers_page_opens_on_a_year_with_someone_to_ask(client):
    year = date.today().year - 3
    org = (await Organisation.insert(Organisation(name="Commune de Valmont", validation_email="mairie@valmont.example"))
           .returning(Organisation.id))[0]["id"]
    await RegistrationRequest.insert(RegistrationRequest(
        reference="R-V1", status="completed", organisation=org,
        submitted_at=datetime(year, 5, 4, 10, tzinfo=timezone.utc)))
    await login(client, "inscriptions")
    page = await client.get("/catalogue/questionnaires/financeurs/")
    assert page.status_code == 200
    years = sorted({r["y"] for r in await RegistrationRequest.raw(
        "SELECT EXTRACT(YEAR FROM r.submitted_at AT TIME ZONE 'Europe/Paris')::int AS y FROM registration_request r "
        "JOIN organisation o ON o.id = r.organisation WHERE o.validation_email <> '' AND o.merged_into IS NULL "
        "AND r.status NOT IN ('draft', 'awaiting_confirmation') AND r.submitted_at IS NOT NULL")
        if r["y"] <= date.today().year}, reverse=True)
    assert f'value="{years[0]}"' in page.text
    empty_page = await client.get(f"/catalogue/questionnaires/financeurs/?year={date.today().year - 20}")
    empty = text(empty_page.text)
    assert f"Aucune structure avec une adresse de validation n'a adressé de demande d'inscription pour " \
           f"{date.today().year - 20}" in empty
    assert "les années avec des demandes sont " + " , ".join(str(y) for y in years) + " ." in empty
    assert f'?year={years[0]}">{years[0]}</a>' in empty_page.text
