"""Survey results (issue 23, app/services/surveys/results.py) against a hand-computed dataset: two
sessions of one template whose surveys ask the same questions in another order (one anonymous, with
a 1–10 scale more), a cold survey aside; averages, distributions, choices, free text, response rate,
the period (anonymous answers dated by their session's end) and the satisfaction figure."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pytest

from app.dates import today
from app.services.scope import Scope
from app.services.surveys import results
from app.tables.catalogue import CourseTemplate, SessionActivity
from app.tables.learning import Enrolment
from app.tables.quality import SurveyInvitation, SurveyResponse
from tests import factories

EVERYTHING = Scope(everything=True, establishment_ids=frozenset(), delegation_ids=frozenset())
OVERALL, RECOMMEND, LIKED, REMARKS, MARK = (
    "Dans l'ensemble, êtes-vous satisfait(e) de cette formation ?", "Recommanderiez-vous cette formation ?",
    "Qu'avez-vous apprécié ?", "Vos remarques", "Note globale")
FORMULA = '=HYPERLINK("http://x.example","clic")'


def q(text, kind, choices=()):
    return {"text": text, "type": kind, "required": False, "choices": list(choices)}


@dataclass
class Dataset:
    template: int
    s1: object
    s2: object
    hot1: int
    hot2: int
    cold1: int
    d1: date  # S1's end
    d2: date  # S2's end


def days(start: date, end: date) -> dict:
    return {"from": start.isoformat(), "to": end.isoformat()}


async def survey(session_id: int, questions: list, phase: str = "hot", anonymous: bool = False) -> int:
    return (await SessionActivity.insert(SessionActivity(
        session=session_id, kind="survey", title=f"Satisfaction {phase}", quiz=json.dumps(questions, ensure_ascii=False),
        survey_phase=phase, anonymous=anonymous, required=False, completion="none")).returning(SessionActivity.id))[0]["id"]


async def answer(activity: int, session: int, template: int | None, phase: str, answers: dict,
                 enrolment: int | None = None, day: date | None = None) -> None:
    await SurveyResponse.insert(SurveyResponse(activity=activity, session=session, template=template, phase=phase,
                                               enrolment=enrolment, submitted_on=day,
                                               answers=json.dumps(answers, ensure_ascii=False)))


async def invite(activity: int, enrolments: list[int], answered: dict[int, date | None] | None = None) -> None:
    answered = answered or {}
    await SurveyInvitation.insert(*[SurveyInvitation(
        enrolment=e, activity=activity, opens_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        answered=e in answered, answered_on=answered.get(e)) for e in enrolments])


async def build_dataset(establishment_id: int, code: str = "Q01") -> Dataset:
    """S1 (ended d1, 270 days ago): hot survey, 3 invited, 2 answers dated d1 + 2; a cold survey, 1
    invited and 1 answer (d1 + 60). S2 (ended d2, 170 days ago): anonymous hot survey, other order
    plus a 1–10 scale, 2 invited, 2 answers without date. Both within the last 12 months."""
    d1, d2 = today() - timedelta(days=270), today() - timedelta(days=170)
    template = (await CourseTemplate.insert(CourseTemplate(code=code, title=f"Formation {code}", short_name=code))
                .returning(CourseTemplate.id))[0]["id"]
    s1 = await factories.session_with_learners(establishment_id, 3, slots=2, start=d1, template=template)
    s2 = await factories.session_with_learners(establishment_id, 2, slots=2, start=d2, template=template)
    hot1 = await survey(s1.id, [q(OVERALL, "scale5"), q(RECOMMEND, "single", ["Oui", "Non"]),
                                q(LIKED, "multiple", ["Contenu", "Animation", "Supports"]), q(REMARKS, "text")])
    cold1 = await survey(s1.id, [q(OVERALL, "scale5")], phase="cold")
    hot2 = await survey(s2.id, [q(REMARKS, "text"), q(OVERALL, "scale5"), q(RECOMMEND, "single", ["Oui", "Non"]),
                                q(MARK, "scale10")], anonymous=True)
    e1, e2 = list(s1.enrolments.values()), list(s2.enrolments.values())
    day, cold_day = d1 + timedelta(days=2), d1 + timedelta(days=60)
    await invite(hot1, e1, {e1[0]: day, e1[1]: day})
    await invite(cold1, [e1[0]], {e1[0]: cold_day})
    await invite(hot2, e2, {e2[0]: None, e2[1]: None})
    await answer(hot1, s1.id, template, "hot", {"0": 5, "1": 0, "2": [0, 1], "3": "Très bien"}, e1[0], day)
    await answer(hot1, s1.id, template, "hot", {"0": 3, "1": 1, "2": [1]}, e1[1], day)
    await answer(cold1, s1.id, template, "cold", {"0": 1}, e1[0], cold_day)
    await answer(hot2, s2.id, template, "hot", {"0": FORMULA, "1": 4, "2": 0, "3": 8})
    await answer(hot2, s2.id, template, "hot", {"1": 4, "2": 0, "3": 6})
    return Dataset(template, s1, s2, hot1, hot2, cold1, d1, d2)


def by_text(result: dict) -> dict:
    return {(x["text"], x["type"]): x for x in result["questions"]}


def rows(question: dict) -> dict:
    return {r["label"]: (r["count"], r["percent"]) for r in question["rows"]}


async def _result(scope=EVERYTHING, **params) -> dict:
    query = results.parse_query({k: str(v) for k, v in params.items() if k != "session"}, session=params.get("session"))
    assert not query.errors, query.errors
    return results.aggregate(*await results.fetch(scope, query))


@pytest.mark.smoke  # the set-based SQL on SQLite too
async def test_hot_results_of_a_template_grouped_across_two_sessions(clean):
    est = await factories.establishment()
    data = await build_dataset(est)
    result = await _result(template=data.template, phase="hot")
    assert (result["invited"], result["answers"], result["rate"]) == (5, 4, 80.0)
    questions = by_text(result)
    # Grouped by (text, type) across the sessions, in the order first met; the 1–10 scale apart.
    assert [x["text"] for x in result["questions"]] == [OVERALL, RECOMMEND, LIKED, REMARKS, MARK]
    overall = questions[(OVERALL, "scale5")]
    assert overall["answered"] == 4 and overall["average"] == 4.0  # 5, 3, 4, 4
    assert rows(overall) == {"1": (0, 0.0), "2": (0, 0.0), "3": (1, 25.0), "4": (2, 50.0), "5": (1, 25.0)}
    assert "Répartition des 4 réponses" in overall["desc"] and "4 : 2 (50,0 %)" in overall["desc"]
    assert rows(questions[(RECOMMEND, "single")]) == {"Oui": (3, 75.0), "Non": (1, 25.0)}
    liked = questions[(LIKED, "multiple")]
    assert liked["answered"] == 2 and rows(liked) == {"Contenu": (1, 50.0), "Animation": (2, 100.0), "Supports": (0, 0.0)}
    # Free text in alphabetical order, never in the order of answering.
    assert questions[(REMARKS, "text")]["texts"] == [FORMULA, "Très bien"]
    mark = questions[(MARK, "scale10")]
    assert mark["answered"] == 2 and mark["average"] == 7.0 and rows(mark)["8"] == (1, 50.0)
    # Satisfaction: 5, 3, 4, 8/2, 4, 6/2 over the hot answers → 23 / 6; four answers.
    assert result["satisfaction"] == {"average": 3.83, "responses": 4}


async def test_phases_and_one_session(clean):
    est = await factories.establishment()
    data = await build_dataset(est)
    everything = await _result(template=data.template)
    # The cold survey has opened (60 days after S1's end) for S1's three learners: three invited.
    assert (everything["invited"], everything["answers"]) == (8, 5)
    overall = by_text(everything)[(OVERALL, "scale5")]
    assert overall["answered"] == 5 and overall["average"] == 3.4  # the cold answer 1 counted too
    assert everything["satisfaction"] == {"average": 3.83, "responses": 4}  # only « à chaud »
    cold = await _result(template=data.template, phase="cold")
    assert (cold["invited"], cold["answers"], cold["rate"]) == (3, 1, 33.3)
    assert cold["satisfaction"] == {"average": None, "responses": 0}
    one = await _result(session=data.s2.id)
    assert (one["invited"], one["answers"]) == (2, 2)
    assert [x["text"] for x in one["questions"]] == [REMARKS, OVERALL, RECOMMEND, MARK]


async def test_period_dates_anonymous_answers_by_their_session_end(clean):
    est = await factories.establishment()
    data = await build_dataset(est)
    five = timedelta(days=5)
    june = await _result(template=data.template, **days(data.d2 - five, data.d2 + five))
    # Only S2's anonymous answers (no day: its end) and its invitations.
    assert (june["invited"], june["answers"], june["rate"]) == (2, 2, 100.0)
    # Two anonymous answers and nothing else: counts only.
    assert june["withheld"] and by_text(june)[(OVERALL, "scale5")]["average"] is None
    march = await _result(template=data.template, **days(data.d1 - five, data.d1 + five))
    # S1's two hot answers of d1 + 2; its three invitations (two answered d1 + 2, one dated by the end)
    # and the two learners of its cold survey without an invitation (dated by the end).
    assert (march["invited"], march["answers"]) == (5, 2)
    may = await _result(template=data.template, **days(data.d1 + timedelta(days=55), data.d1 + timedelta(days=65)))
    assert (may["invited"], may["answers"]) == (1, 1)  # the cold answer of d1 + 60
    none = await _result(template=data.template, **days(data.d1 - timedelta(days=400), data.d1 - timedelta(days=300)))
    assert (none["invited"], none["answers"], none["rate"], none["questions"]) == (0, 0, None, [])


async def test_scope_sees_only_its_establishments(clean):
    est, other = await factories.establishment(), await factories.establishment()
    data = await build_dataset(est)
    theirs = Scope(everything=False, establishment_ids=frozenset({other}), delegation_ids=frozenset())
    result = await _result(theirs, template=data.template)
    assert (result["invited"], result["answers"], result["questions"]) == (0, 0, [])
    ours = Scope(everything=False, establishment_ids=frozenset({est}), delegation_ids=frozenset())
    assert (await _result(ours, template=data.template))["answers"] == 5


def test_bad_filters_are_ignored_with_a_french_message():
    query = results.parse_query({"from": "2026-13-01", "to": "x", "phase": "tiède", "template": "9" * 30})
    assert (query.start, query.end, query.phase, query.template) == (None, None, "", None)
    assert set(query.errors) == {"from", "to", "phase", "template"}
    assert "date invalide" in query.errors["from"]
    reversed_ = results.parse_query({"from": "2026-05-01", "to": "2026-04-01"})
    assert reversed_.start is None and "précède" in reversed_.errors["to"]


def test_malformed_answers_count_nothing():
    source = results.Source([q(OVERALL, "scale5"), q(RECOMMEND, "single", ["Oui"]), q(LIKED, "multiple", ["A", "B"])],
                            invited=3, phase="hot")
    result = results.aggregate({1: source}, [(1, "pas du json"), (1, json.dumps({"0": 9, "1": 3, "2": [5, "x"]})),
                                             (1, json.dumps({"0": True, "1": -1, "2": 1}))])
    assert result["answers"] == 3
    assert [x["answered"] for x in result["questions"]] == [0, 0, 0]
    assert result["satisfaction"] == {"average": None, "responses": 0}


@pytest.mark.parametrize("page,expected", [(1, 50), (2, 50), (3, 20), (9, 20)])
def test_free_text_pages(page, expected):
    source = results.Source([q(REMARKS, "text")], invited=120)
    result = results.aggregate({1: source}, [(1, json.dumps({"0": f"réponse {i}"})) for i in range(120)])
    shown = results.text_page(result, 0, page)
    assert len(shown["texts"]) == expected and shown["pages"] == 3


async def test_invited_are_the_learners_for_whom_the_survey_is_open(clean):
    """A survey without sending (phase "") or added late has invitations only for who answered: the
    rate read 100 %. Invited: the session's active enrolments (and inactive ones with an
    invitation) once the survey has opened."""
    est = await factories.establishment()
    s = await factories.session_with_learners(est, 6, slots=2, start=today() - timedelta(days=20))
    e = list(s.enrolments.values())
    free = await survey(s.id, [q(OVERALL, "scale5")], phase="")
    late = await survey(s.id, [q(OVERALL, "scale5")], phase="hot")
    await invite(free, [e[0]], {e[0]: today()})
    await invite(late, [e[0], e[5]], {e[0]: today()})
    await answer(free, s.id, None, "", {"0": 5}, e[0], today())
    await answer(late, s.id, None, "hot", {"0": 4}, e[0], today())
    # e[5] unenrolled after its invitation: still invited; e[4] unenrolled without one: not.
    await Enrolment.update({Enrolment.active: False}).where(Enrolment.id.is_in([e[4], e[5]]))
    one = results.parse_query({}, session=s.id)
    parts = {p["phase"]: p for p in results.sections(*await results.fetch(EVERYTHING, one))}
    assert (parts[""]["invited"], parts[""]["answers"], parts[""]["rate"]) == (4, 1, 25.0)
    assert (parts["hot"]["invited"], parts["hot"]["answers"]) == (5, 1)
    assert "cold" not in parts
    assert not parts[""]["not_open"] and parts[""]["label"] == "Sans envoi automatique"


async def test_a_survey_not_yet_open_says_when(clean):
    est = await factories.establishment()
    start = today() + timedelta(days=10)
    s = await factories.session_with_learners(est, 3, slots=2, start=start)
    await survey(s.id, [q(OVERALL, "scale5")], phase="hot")
    result = results.aggregate(*await results.fetch(EVERYTHING, results.parse_query({}, session=s.id)))
    assert (result["invited"], result["rate"], result["not_open"]) == (0, None, True)
    assert result["opens_on"] == f"{start:%d/%m/%Y}"  # its last slot ends that day (two half-days)


def test_few_anonymous_answers_show_counts_only_and_free_text_is_sorted():
    source = results.Source([q(OVERALL, "scale5"), q(REMARKS, "text")], invited=6, phase="hot", anonymous=True)
    answers = [(1, json.dumps({"0": 5, "1": "Zut"})), (1, json.dumps({"0": 2, "1": "Bien"}))]
    session = results.aggregate({1: source}, answers, one_session=True)
    assert session["withheld"] and session["answers"] == 2
    assert [x["rows"] for x in session["questions"]] == [[], []] and session["questions"][1]["texts"] == []
    assert session["satisfaction"]["average"] is None
    five = results.aggregate({1: source}, answers * 3, one_session=True)
    assert not five["withheld"] and five["questions"][1]["texts"] == ["Bien", "Bien", "Bien", "Zut", "Zut", "Zut"]


def test_the_index_defaults_to_the_last_12_months():
    query = results.parse_query({}, default_period=True)
    assert (query.start, query.end) == results.last_12_months(today()) and not query.errors
    assert results.parse_query({"from": "2020-01-01"}, default_period=True).end is None
