"""Satisfaction surveys, the answering side (issue 23): the questions' text format, one answer per
learner whatever the clicks, anonymity, the cron's invitations, mails and reminders."""

import asyncio
import json
from datetime import timedelta

import pytest

from app.dates import now
from app.services.errors import ValidationFailed
from app.services.surveys import answer as answering, invitations
from app.services.surveys.questions import parse_survey_text, read_answers, survey_text
from app.services.surveys.settings import COLD_MODEL, FINANCERS_MODEL, HOT_MODEL
from app.tables.catalogue import SessionActivity
from app.tables.learning import Enrolment
from app.tables.outbox import Mail
from app.tables.quality import SurveyInvitation, SurveyResponse
from tests.surveys_helpers import GOOD, SMALL, survey_session, username


# -- the text format -------------------------------------------------------------------------------
def test_the_text_format_reads_every_type_and_round_trips():
    questions = parse_survey_text(SMALL)
    assert [q["type"] for q in questions] == ["scale5", "scale10", "multiple", "single", "text"]
    assert questions[2]["choices"] == ["Les exercices", "Les échanges", "Les supports"]
    assert [q["required"] for q in questions] == [True, True, True, True, False]
    assert questions[0] == {"text": "Dans l'ensemble, êtes-vous satisfait(e) ?", "type": "scale5", "required": True,
                            "choices": []}
    for model in (SMALL, HOT_MODEL, COLD_MODEL, FINANCERS_MODEL):
        parsed = parse_survey_text(model)
        assert parse_survey_text(survey_text(parsed)) == parsed
    # Loose writing is read too: accents, case, spaces, CRLF, several blank lines.
    loose = "Note ?\r\n[Echelle 1 - 10]  [FACULTATIF]\r\n\r\n\r\nAvis\r\n[Texte libre]"
    assert [(q["type"], q["required"]) for q in parse_survey_text(loose)] == [("scale10", False), ("text", True)]


@pytest.mark.parametrize("text, message", [
    ("Question sans type", "Question 1 : indiquez son type"),
    ("Q1\n[échelle 1-5]\n\nQ2\n[échelle 1-7]", "Question 2 : type « [échelle 1-7] » inconnu"),
    ("Q1\n[choix unique]\n- Seule", "Question 1 : un choix demande au moins deux réponses"),
    ("Q1\n[choix multiple]\n- A\nB", "Question 1 : chaque réponse possible est sur sa ligne et commence par « - »"),
    ("Q1\n[échelle 1-5]\n- A\n- B", "Question 1 : une question « échelle 1-5 » n'a pas de réponses"),
    ("Q1\néchelle", "Question 1 : la deuxième ligne doit donner son type"),
    ("Q1\n[choix unique]\n- A\n- A", "Question 1 : deux réponses possibles sont identiques"),
])
def test_the_text_format_names_the_question_at_fault(text, message):
    with pytest.raises(ValidationFailed) as refused:
        parse_survey_text(text)
    assert message in refused.value.errors["survey"]


def test_answers_are_checked_against_the_questions():
    questions = parse_survey_text(SMALL)
    assert read_answers(questions, GOOD) == {"0": 4, "1": 9, "2": [0, 2], "3": 1, "4": "Très bien, merci."}
    # The optional text left empty is absent; the multiple choice is sorted and distinct.
    assert read_answers(questions, {**GOOD, "q4": ["  "], "q2": ["2", "0", "2"]})["2"] == [0, 2]
    assert "4" not in read_answers(questions, {**GOOD, "q4": [""]})
    bad = {
        "q0": ["6"],  # out of the scale
        "q1": ["9\r\n"],  # a forged value with a line break
        "q2": ["7"],  # a choice that is not one
        "q3": ["0", "1"],  # two answers to a single choice
        "q4": ["x" * 1_000_000],  # a megabyte of text
    }
    with pytest.raises(ValidationFailed) as refused:
        read_answers(questions, bad)
    errors = refused.value.errors
    assert errors["q0"] == "Question 1 : choisissez une note de 1 à 5."
    assert "Question 2 : réponse non reconnue" in errors["q1"]
    assert "Question 3 : réponse non reconnue" in errors["q2"]
    assert errors["q3"] == "Question 4 : une seule réponse est possible."
    assert errors["q4"] == "Question 5 : votre réponse dépasse 5 000 caractères ; raccourcissez-la."
    with pytest.raises(ValidationFailed) as missing:
        read_answers(questions, {"q4": ["ok"]})
    assert set(missing.value.errors) == {"q0", "q1", "q2", "q3"}
    assert missing.value.errors["q0"] == "Question 1 : une réponse est obligatoire."


# -- one answer per learner ------------------------------------------------------------------------
async def _activity(activity_id):
    return await SessionActivity.select().where(SessionActivity.id == activity_id).first()


async def _answer(built, user_id, activity_id, form=GOOD):
    session = {"id": built.id, "start_date": built.slots[0].day}
    return await answering.answer(session, built.enrolments[user_id], None, await _activity(activity_id), form)


@pytest.mark.smoke
async def test_one_answer_per_learner_whatever_the_clicks(clean):
    built, activity_id = await survey_session(learners=2)
    me, other = built.learners
    # Ten submits at once (double clicks, two tabs, the link and the session page): one answer.
    outcomes = await asyncio.gather(*[_answer(built, me, activity_id) for _ in range(10)])
    assert sorted(outcomes) == [False] * 9 + [True]
    assert await SurveyResponse.count().where(SurveyResponse.activity == activity_id) == 1
    assert await _answer(built, me, activity_id) is False  # later, too
    assert await _answer(built, other, activity_id) is True
    rows = await SurveyResponse.select().where(SurveyResponse.activity == activity_id).order_by(SurveyResponse.id)
    assert [r["enrolment"] for r in rows] == [built.enrolments[me], built.enrolments[other]]
    assert rows[0]["session"] == built.id and rows[0]["phase"] == "hot" and rows[0]["submitted_on"] is not None
    assert json.loads(rows[0]["answers"]) == {"0": 4, "1": 9, "2": [0, 2], "3": 1, "4": "Très bien, merci."}
    invitation = await SurveyInvitation.select().where(SurveyInvitation.enrolment == built.enrolments[me]).first()
    assert invitation["answered"] and invitation["answered_on"] is not None


async def test_a_survey_is_not_answered_before_it_opens(clean):
    built, activity_id = await survey_session(learners=1, days_ago=-5)  # the session is ahead
    with pytest.raises(ValidationFailed) as refused:
        await _answer(built, built.learners[0], activity_id)
    assert refused.value.errors == {"survey": "Ce questionnaire n'est pas encore ouvert."}
    assert await SurveyResponse.count() == 0 and await SurveyInvitation.count() == 0


async def test_an_anonymous_answer_holds_nothing_that_leads_to_the_person(clean):
    built, activity_id = await survey_session(learners=3, anonymous=True)
    for user in built.learners[:2]:
        assert await _answer(built, user, activity_id) is True
    responses = await SurveyResponse.select().where(SurveyResponse.activity == activity_id)
    assert len(responses) == 2
    for r in responses:
        assert r["enrolment"] is None and r["submitted_on"] is None and r["organisation"] is None
    invitations_ = await SurveyInvitation.select().where(SurveyInvitation.activity == activity_id)
    assert {i["answered"] for i in invitations_} == {True} and {i["answered_on"] for i in invitations_} == {None}
    # No column of survey_response refers to a person, an enrolment or an invitation, whatever its
    # name: the catalogue's foreign keys of the table.
    keys = await SurveyResponse.raw(
        "SELECT kcu.column_name, ccu.table_name AS target FROM information_schema.table_constraints tc "
        "JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name "
        "JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name "
        "WHERE tc.table_name = 'survey_response' AND tc.constraint_type = 'FOREIGN KEY'")
    targets = {k["column_name"]: k["target"] for k in keys}
    assert targets["enrolment"] == "enrolment"  # the only one, NULL for every anonymous answer
    assert not {"app_user", "survey_invitation"} & set(targets.values())
    joined = await SurveyResponse.raw(
        "SELECT COUNT(*) AS n FROM survey_response r JOIN enrolment e ON e.id = r.enrolment WHERE r.activity = {}",
        activity_id)
    assert joined[0]["n"] == 0


# -- the cron --------------------------------------------------------------------------------------
async def _cron(redis_client, moment=None):
    return await invitations.run_survey_mails(redis_client, moment)


@pytest.mark.smoke
async def test_the_cron_invites_once_and_reminds_until_answered(clean, redis_client, run_jobs, smtp):
    built, activity_id = await survey_session(learners=3, days_ago=2)
    ahead, _ = await survey_session(learners=2, days_ago=-100)  # not over yet: nobody asked
    first = await _cron(redis_client)
    assert first == {"created": 3, "invited": 3, "reminded": 0}
    # A second run, and two workers at once, mail nothing more.
    again = await asyncio.gather(_cron(redis_client), _cron(redis_client))
    assert [r["invited"] + r["reminded"] + r["created"] for r in again] == [0, 0]
    await run_jobs()
    assert sorted(to for tos, _ in smtp.messages for to in tos) == sorted(
        f"{u}@example.org" for u in [await username(x) for x in built.learners])
    message = smtp.messages[0][1]
    assert message["Subject"].startswith("Votre avis sur la formation « Session fabriquée")
    body = message.get_content()
    assert "questionnaire de satisfaction à chaud « Votre avis à chaud »" in body
    assert "http://testserver.local/questionnaire/" in body
    # The secret link is gone from the outbox once sent.
    assert {m["secret"] for m in await Mail.select(Mail.secret).where(Mail.category == "survey")} == {""}

    # One learner answers; eight days later the two others get the first reminder, once.
    assert await _answer(built, built.learners[0], activity_id) is True
    smtp.messages.clear()
    later = now() + timedelta(days=8)
    assert (await _cron(redis_client, later))["reminded"] == 2
    assert (await _cron(redis_client, later + timedelta(minutes=10)))["reminded"] == 0
    # The second answers; at fifteen days the last one gets the second reminder, then nothing more.
    assert await _answer(built, built.learners[1], activity_id) is True
    assert (await _cron(redis_client, now() + timedelta(days=15)))["reminded"] == 1
    assert (await _cron(redis_client, now() + timedelta(days=40)))["reminded"] == 0
    await run_jobs()
    reminded = sorted(to for tos, _ in smtp.messages for to in tos)
    last = f"{await username(built.learners[2])}@example.org"
    assert reminded == sorted([f"{await username(built.learners[1])}@example.org", last, last])
    assert all(m["Subject"].startswith("Rappel : votre avis") for _, m in smtp.messages)
    rows = {r["enrolment"]: r for r in await SurveyInvitation.select().where(SurveyInvitation.activity == activity_id)}
    assert [rows[built.enrolments[u]]["reminders"] for u in built.learners] == [0, 1, 2]
    assert await SurveyInvitation.count().where(SurveyInvitation.enrolment.is_in(list(ahead.enrolments.values()))) == 0


async def test_opening_hot_cold_and_sessions_without_slots(clean, redis_client):
    # Cold: opens survey_cold_days (60) after the end of the last slot.
    built, cold = await survey_session(learners=1, days_ago=2, phase="cold")
    assert (await _cron(redis_client))["created"] == 0
    assert (await _cron(redis_client, now() + timedelta(days=59)))["created"] == 1
    opens = (await SurveyInvitation.select().where(SurveyInvitation.activity == cold).first())["opens_at"]
    last = built.slots[-1]
    assert opens.date() == last.day + timedelta(days=60)
    # Without slots: at the learner's completion.
    plain, hot = await survey_session(learners=1, days_ago=5, slots=0)
    assert (await _cron(redis_client))["created"] == 0
    done_at = now() - timedelta(hours=1)
    await Enrolment.update({Enrolment.completed_at: done_at}).where(Enrolment.session == plain.id)
    assert (await _cron(redis_client))["created"] == 1
    row = await SurveyInvitation.select().where(SurveyInvitation.activity == hot).first()
    assert abs((row["opens_at"] - done_at).total_seconds()) < 1
