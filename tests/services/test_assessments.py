"""Entry and exit assessments tied to objectives (issue 23, Qualiopi indicators 8 and 11): the
objective tags of the quiz text (round trip, errors naming the question), the objectives' lines, and
the results per objective against a dataset computed by hand (two objectives, several attempts,
untagged and multiple-choice questions, a retired and an ordinary quiz left out), set-based."""

import json
from dataclasses import dataclass

import pytest

from app.services import assessments, session_content
from app.services.activities import ActivityForm
from app.services.assessments import objective_lines
from app.services.errors import ValidationFailed
from app.services.learner import grade, load_quiz, parse_quiz_text, quiz_text
from app.tables.catalogue import CourseTemplate, SessionActivity, TrainingSession
from app.tables.learning import QuizAttempt
from app.tables.org import Establishment
from tests.factories import session_with_learners

OBJECTIVES = "- Repérer les situations de maltraitance\n\n2) Savoir alerter\n"
# Right answers: q0 [0], q1 [0], q2 [0] (q2 untagged).
ENTRY = "[Objectif 1] Qu'est-ce que la maltraitance ?\n* a\n- b\n\n[O 2] Qui alerter ?\n* a\n- b\n\nQuestion sans objectif\n* a\n- b"
# Right answers: e0 [0], e1 [0, 1] (multiple choice), e2 [0], e3 [1], e4 [0] (untagged).
EXIT = ("[objectif 1] Un signe ?\n* a\n- b\n\n[O1] Des signes ?\n* a\n* b\n- c\n\n[OBJÉCTIF 2] Le numéro ?\n* a\n- b\n\n"
        "[o 2] Et ensuite ?\n- a\n* b\n\nSans objectif\n* a\n- b")


# -- the text format ------------------------------------------------------------------------------
def test_objective_lines_strip_bullets_and_numbering_and_skip_blank_lines():
    assert objective_lines(OBJECTIVES) == ["Repérer les situations de maltraitance", "Savoir alerter"]
    assert objective_lines("1. Un\r\n2) Deux\n • Trois\n* Quatre\n3 - Cinq\n\n   \nSix 2.0") == [
        "Un", "Deux", "Trois", "Quatre", "Cinq", "Six 2.0"]
    assert objective_lines("") == objective_lines(None) == []


def test_objective_tags_are_read_in_every_spelling_and_written_back():
    questions = parse_quiz_text(EXIT, objectives=2)
    assert [q.get("objective") for q in questions] == [1, 1, 2, 2, None]
    assert [q["text"] for q in questions] == ["Un signe ?", "Des signes ?", "Le numéro ?", "Et ensuite ?", "Sans objectif"]
    assert "objective" not in questions[4]
    written = quiz_text(load_quiz(json.dumps(questions)))
    assert written.startswith("[Objectif 1] Un signe ?\n* a\n- b\n\n[Objectif 1] Des signes ?")
    assert "\n\nSans objectif\n* a" in written
    assert parse_quiz_text(written, objectives=2) == questions  # round trip
    # A bracket that is not a tag stays in the question; untagged quizzes are unchanged.
    assert parse_quiz_text("[Cas pratique] Que faire ?\n* a\n- b", 0) == [
        {"text": "[Cas pratique] Que faire ?", "choices": [{"text": "a", "correct": True}, {"text": "b", "correct": False}]}]


@pytest.mark.parametrize(("text", "objectives", "message"), [
    ("Q1\n* a\n- b\n\n[Objectif 3] Qui alerter en premier ?\n* a\n- b", 2,
     "Question 2 (« Qui alerter en premier ? ») : l'objectif 3 n'existe pas — le cours modèle en compte 2 "
     "(numérotés de 1 à 2)."),
    ("[O 0] Zéro ?\n* a\n- b", 2, "Question 1 (« Zéro ? ») : l'objectif 0 n'existe pas"),
    ("[Objectif 1] Quoi ?\n* a\n- b", 0,
     "Question 1 (« Quoi ? ») : l'objectif 1 n'existe pas — le cours modèle n'a pas d'objectifs pédagogiques."),
    ("[Objectif] Quoi ?\n* a\n- b", 2, "Question 1 (« [Objectif] Quoi ? ») : l'étiquette d'objectif s'écrit « [Objectif N] »"),
    ("[Objectif 1]\n* a\n- b", 2, "Question 1 : le texte de la question manque après « [Objectif 1] »."),
])
def test_a_wrong_tag_is_a_french_error_naming_the_question(text, objectives, message):
    with pytest.raises(ValidationFailed) as refused:
        parse_quiz_text(text, objectives)
    assert message in refused.value.errors["quiz"]


@pytest.mark.parametrize("tag", [
    "[Objectif " + "9" * 5000 + "]",  # int() refuses more than 4,300 digits: was a 500
    "[Objectif \u0661]",  # Arabic-Indic one: a digit to \\d and int(), not to a person
    "[O \u00b2]",  # superscript two
    "[Objectif \uff11]",  # full-width one
    "[Objectif 1000]", "[O 0001]",  # more than 3 digits
], ids=["5000-digits", "arabic-indic", "superscript", "full-width", "4-digits", "4-digits-zeros"])
def test_a_tag_number_is_one_to_three_ascii_digits_else_a_french_error(tag):
    objective, question, unreadable = assessments.split_tag(tag + " Qui alerter ?")
    assert objective is None and unreadable and question == tag + " Qui alerter ?"
    with pytest.raises(ValidationFailed) as refused:
        parse_quiz_text("Q1\n* a\n- b\n\n" + tag + " Qui alerter ?\n* a\n- b", objectives=2)
    message = refused.value.errors["quiz"]
    assert message.startswith("Question 2 (« [O") and len(message) < 200
    assert message.endswith(" : l'étiquette d'objectif s'écrit « [Objectif N] », N étant le numéro de l'objectif.")


def test_one_to_three_ascii_digits_are_a_tag():
    assert assessments.split_tag("[Objectif 007] Quoi ?") == (7, "Quoi ?", False)
    assert assessments.split_tag("[ÔBJECTIF 12] Quoi ?") == (12, "Quoi ?", False)
    assert parse_quiz_text("[o999] Quoi ?\n* a\n- b")[0]["objective"] == 999  # not checked without objectives


# -- results per objective ----------------------------------------------------------------------
@dataclass
class Dataset:
    session: int
    entry: int
    exit: int
    a: int  # enrolments
    b: int
    c: int


def answers(*chosen) -> str:
    return json.dumps({str(i): c for i, c in enumerate(chosen)})


async def assessed_session(establishment_code: str = "ALP001") -> Dataset:
    """A session of ``establishment_code`` from a template with two objectives; an entry quiz (pass
    mark 50) of 3 questions (objective 1, objective 2, untagged), an exit quiz (pass mark 50) of 5
    (1, 1 multiple choice, 2, 2, untagged), plus an ordinary quiz and a retired exit quiz with
    attempts that must not count. Learners A, B, C (enrolment order):
    A: entry twice (first: 1 right, 2 wrong, untagged right; then all right), exit twice (first all
       wrong; best and last: e0 right, e1 half answered → wrong, e2 right, e3 right, e4 wrong)
       → entry 100 / 0, score 66; exit 50 / 100, score 60; objectives 1 and 2 reached.
    B: no entry; exit once (e0 wrong, e1 right choices but one → wrong, e2 right, e3 wrong, e4 right)
       → exit 0 / 50, score 40; objective 1 not reached, 2 reached.
    C: entry once, all wrong → 0 / 0, score 0; no exit (the retired one does not count)."""
    est = (await Establishment.select(Establishment.id).where(Establishment.code == establishment_code).first())["id"]
    template = (await CourseTemplate.insert(CourseTemplate(
        code=f"A{est % 1000:03d}", title="Bientraitance", short_name="BT", objectives=OBJECTIVES)).returning(
        CourseTemplate.id))[0]["id"]
    built = await session_with_learners(est, learners_count=3, slots=0, template=template)
    ids = []
    for title, text, assessment in (("Positionnement", ENTRY, "entry"), ("Évaluation finale", EXIT, "exit"),
                                    ("Quiz ordinaire", EXIT, ""), ("Ancienne évaluation", EXIT, "exit")):
        ids.append(await session_content.save_activity(built.id, ActivityForm(
            kind="quiz", title=title, completion="quiz", pass_mark=50, quiz_text=text, assessment=assessment)))
    entry, exit_, ordinary, retired = ids
    await session_content.set_retired(built.id, retired, True)
    a, b, c = (built.enrolments[u] for u in built.learners)
    quizzes = {r["id"]: load_quiz(r["quiz"]) for r in await SessionActivity.select(
        SessionActivity.id, SessionActivity.quiz).where(SessionActivity.id.is_in(ids))}
    for enrolment, activity, chosen in (
            (a, entry, ([0], [1], [0])), (a, entry, ([0], [0], [0])),
            (a, exit_, ([1], [2], [1], [0], [1])), (a, exit_, ([0], [0], [0], [1], [1])),
            (b, exit_, ([1], [0], [0], [0], [0])),
            (c, entry, ([1], [1], [1])),
            (c, retired, ([0], [0, 1], [0], [1], [0])), (c, ordinary, ([0], [0, 1], [0], [1], [0])),
            (b, ordinary, ([0], [0, 1], [0], [1], [0]))):
        score = grade(quizzes[activity], dict(enumerate(chosen)))  # as the learner's page records it
        await QuizAttempt.insert(QuizAttempt(enrolment=enrolment, activity=activity, answers=answers(*chosen),
                                             score=score, passed=score >= 50))
    return Dataset(built.id, entry, exit_, a, b, c)


def table(result: dict) -> list[tuple]:
    return [(o["number"], o["entry"], o["exit"], o["reached"]) for o in result["objectives"]]


async def test_the_editor_stores_the_assessment_and_the_tags(demo):
    data = await assessed_session()
    rows = {r["id"]: r for r in await SessionActivity.select().where(SessionActivity.session == data.session)}
    assert (rows[data.entry]["assessment"], rows[data.exit]["assessment"]) == ("entry", "exit")
    assert [q.get("objective") for q in json.loads(rows[data.entry]["quiz"])] == [1, 2, None]
    # A tag beyond the template's objectives is refused, naming the question; nothing is written.
    with pytest.raises(ValidationFailed) as refused:
        await session_content.save_activity(data.session, ActivityForm(
            kind="quiz", title="X", quiz_text="[Objectif 3] Trop loin ?\n* a\n- b", assessment="exit"), data.exit)
    assert "Question 1 (« Trop loin ? ») : l'objectif 3 n'existe pas" in refused.value.errors["quiz"]
    with pytest.raises(ValidationFailed) as refused:
        await session_content.save_activity(data.session, ActivityForm(kind="quiz", title="X", assessment="forged"))
    assert refused.value.errors["assessment"] == "Type d'évaluation inconnu."
    assert (await SessionActivity.select(SessionActivity.quiz).where(SessionActivity.id == data.exit).first())["quiz"] \
        == rows[data.exit]["quiz"]
    # Another kind keeps no assessment.
    page = await session_content.save_activity(data.session, ActivityForm(kind="page", title="P", assessment="exit"))
    assert (await SessionActivity.select(SessionActivity.assessment).where(SessionActivity.id == page).first()
            )["assessment"] == ""


@pytest.mark.smoke
async def test_results_per_objective_against_the_hand_computed_dataset(demo):
    data = await assessed_session()
    results = await assessments.for_enrolments({data.a: data.session, data.b: data.session, data.c: data.session})
    a, b, c = results[data.a], results[data.b], results[data.c]
    assert table(a) == [(1, 100, 50, True), (2, 0, 100, True)]
    assert (a["entry_score"], a["exit_score"]) == (66, 60)
    assert table(b) == [(1, None, 0, False), (2, None, 50, True)]
    assert (b["entry_score"], b["exit_score"], b["entry_done"], b["exit_done"]) == (None, 40, False, True)
    assert table(c) == [(1, 0, None, None), (2, 0, None, None)]
    assert (c["entry_score"], c["exit_score"]) == (0, None)
    assert [o["text"] for o in a["objectives"]] == ["Repérer les situations de maltraitance", "Savoir alerter"]
    assert [o["pass_mark"] for o in a["objectives"]] == [50, 50]
    # The overall score is learner.grade's, untagged questions included.
    exit_questions = load_quiz((await SessionActivity.select(SessionActivity.quiz).where(
        SessionActivity.id == data.exit).first())["quiz"])
    assert grade(exit_questions, {0: [0], 1: [0], 2: [0], 3: [1], 4: [1]}) == a["exit_score"]

    overview = await assessments.session_overview(data.session)
    assert [(o["entry"], o["entry_count"], o["exit"], o["exit_count"], o["reached"]) for o in overview["objectives"]] == [
        (50, 2, 25, 2, 1), (0, 2, 75, 2, 2)]
    assert (overview["entry_score"], overview["exit_score"], overview["entry_done"], overview["exit_done"]) == (33, 50, 2, 2)
    assert [r["id"] for r in overview["learners"]] == [data.a, data.b, data.c]
    assert overview["entry_quizzes"] == ["Positionnement"] and overview["exit_quizzes"] == ["Évaluation finale"]


async def attempt_at(enrolment: int, activity: int, *chosen) -> None:
    questions = load_quiz((await SessionActivity.select(SessionActivity.quiz).where(
        SessionActivity.id == activity).first())["quiz"])
    score = grade(questions, dict(enumerate(chosen)))
    await QuizAttempt.insert(QuizAttempt(enrolment=enrolment, activity=activity, answers=answers(*chosen),
                                         score=score, passed=score >= 50))


async def test_the_best_exit_attempt_counts_everywhere_and_of_equal_scores_the_latest(demo):
    """One rule on every page and on the attestation: exit = the best attempt (the latest of equal
    scores), entry = the first — never the last exit attempt."""
    from app.services.certificates.evaluation import quiz_results

    data = await assessed_session()
    # A tries the exit quiz a third time and does worse (all wrong): the best attempt (60 %) still counts.
    await attempt_at(data.a, data.exit, [1], [2], [1], [0], [1])
    # B retries at the same score (40 %) with other answers (objective 1 all right, objective 2 wrong):
    # of equal scores, the latest counts.
    await attempt_at(data.b, data.exit, [0], [0, 1], [1], [0], [1])
    # C retries the entry quiz and does better: positioning stays the first attempt.
    await attempt_at(data.c, data.entry, [0], [0], [0])
    results = await assessments.for_enrolments({data.a: data.session, data.b: data.session, data.c: data.session})
    assert table(results[data.a]) == [(1, 100, 50, True), (2, 0, 100, True)] and results[data.a]["exit_score"] == 60
    assert table(results[data.b]) == [(1, None, 100, True), (2, None, 0, False)] and results[data.b]["exit_score"] == 40
    assert table(results[data.c]) == [(1, 0, None, None), (2, 0, None, None)]
    overview = await assessments.session_overview(data.session)
    assert [table(r) for r in overview["learners"]] == [table(results[e]) for e in (data.a, data.b, data.c)]
    # The attestation's « Meilleur score » is the very attempt the objectives come from.
    facts = {e: {"session_id": data.session} for e in (data.a, data.b)}
    scores = {e: {q["titre"]: q["score"] for q in r["evaluations"]} for e, r in (await quiz_results(facts)).items()}
    assert scores[data.a]["Évaluation finale"] == results[data.a]["exit_score"] == 60
    assert scores[data.b]["Évaluation finale"] == results[data.b]["exit_score"] == 40
    certificate = await assessments.certificate_results(facts)
    assert [(o["pourcentage"], o["atteint"]) for o in certificate[data.b]] == [(100, True), (0, False)]
    # The entry quiz is no pass/fail evaluation there: stated apart, its first attempt.
    assert "Positionnement" not in scores[data.a]
    assert (await quiz_results({data.c: {"session_id": data.session}}))[data.c]["positionnements"] == [
        {"titre": "Positionnement", "score": 0}]


async def test_a_higher_pass_mark_and_a_session_without_assessment(demo):
    data = await assessed_session()
    await SessionActivity.update({SessionActivity.pass_mark: 60}).where(SessionActivity.id == data.exit)
    results = await assessments.for_enrolments({data.a: data.session, data.b: data.session})
    assert table(results[data.a]) == [(1, 100, 50, False), (2, 0, 100, True)]
    assert table(results[data.b]) == [(1, None, 0, False), (2, None, 50, False)]
    # Flagged « Aucune »: the session has no assessment any more.
    await SessionActivity.update({SessionActivity.assessment: ""}).where(SessionActivity.session == data.session)
    assert await assessments.for_enrolments({data.a: data.session}) == {}
    assert await assessments.session_overview(data.session) is None


async def test_objectives_shortened_afterwards_count_in_the_score_only(demo):
    data = await assessed_session()
    template = (await TrainingSession.select(TrainingSession.template).where(TrainingSession.id == data.session).first())
    await CourseTemplate.update({CourseTemplate.objectives: "Repérer les situations de maltraitance"}).where(
        CourseTemplate.id == template["template"])
    result = (await assessments.for_enrolments({data.a: data.session}))[data.a]
    assert table(result) == [(1, 100, 50, True)] and result["exit_score"] == 60


@pytest.mark.smoke
async def test_set_based_two_queries_for_any_number_of_enrolments(demo, monkeypatch):
    first, second = await assessed_session(), await assessed_session("ALP002")
    engine = type(QuizAttempt._meta.db)
    original = engine.run_querystring
    seen: list[str] = []

    async def counting(self, querystring, *args, **kwargs):
        seen.append(str(querystring))
        return await original(self, querystring, *args, **kwargs)

    monkeypatch.setattr(engine, "run_querystring", counting)
    results = await assessments.for_enrolments({e: d.session for d in (first, second) for e in (d.a, d.b, d.c)})
    assert len(seen) == 2 and len(results) == 6
    assert table(results[second.a]) == table(results[first.a])
    seen.clear()
    await assessments.session_overview(first.session)
    assert len(seen) == 3


def test_the_labels_name_the_declared_values():
    from app.tables.catalogue import Assessment

    assert set(assessments.ASSESSMENT_LABELS) == {a.value for a in Assessment}


async def test_the_content_import_copies_the_assessment_and_the_tags(demo, redis_client):
    from app.services.sessions.content_import import run_content_import
    from app.tables.catalogue import ContentImport, TemplateActivity

    est = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    template = (await CourseTemplate.insert(CourseTemplate(code="Z77", title="Bientraitance", short_name="BT",
                                                           objectives=OBJECTIVES)).returning(CourseTemplate.id))[0]["id"]
    quiz = (await TemplateActivity.insert(TemplateActivity(
        template=template, kind="quiz", title="Évaluation finale", completion="quiz", pass_mark=50, assessment="exit",
        quiz=json.dumps(parse_quiz_text(EXIT, 2)))).returning(TemplateActivity.id))[0]["id"]
    built = await session_with_learners(est, learners_count=1, slots=0)
    job = (await ContentImport.insert(ContentImport(session=built.id, template=template, activity_ids=str(quiz),
                                                    status="queued", token="h3-import")).returning(ContentImport.id))[0]["id"]
    assert await run_content_import(redis_client, job) == 1
    copied = await SessionActivity.select().where(SessionActivity.session == built.id).first()
    assert copied["assessment"] == "exit" and copied["quiz"] == (await TemplateActivity.select(
        TemplateActivity.quiz).where(TemplateActivity.id == quiz).first())["quiz"]
    assert await assessments.session_objectives(built.id) == ["Repérer les situations de maltraitance", "Savoir alerter"]
    enrolment = built.enrolments[built.learners[0]]
    await QuizAttempt.insert(QuizAttempt(enrolment=enrolment, activity=copied["id"], answers=answers(
        [0], [0, 1], [0], [1], [0]), score=100, passed=True))
    result = (await assessments.for_enrolments({enrolment: built.id}))[enrolment]
    assert table(result) == [(1, None, 100, True), (2, None, 100, True)]
