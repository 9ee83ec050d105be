"""Certificates: the results of the evaluation of learning the attestation de fin de formation states
(article L6353-1 of the Code du travail, layout 4): per quiz of the session, the learner's best score
and whether they passed — for a batch of enrolments in two queries, frozen in the snapshot."""

from __future__ import annotations

from app.tables.catalogue import SessionActivity
from app.tables.learning import QuizAttempt

NO_EVALUATION = "Aucune évaluation"


async def quiz_results(facts_by_id: dict[int, dict]) -> dict[int, list[dict]]:
    """{enrolment id: [{"titre", "score" (best %, or None when never attempted), "reussi" (bool)}]},
    the quizzes in the session's order (retired ones left out)."""
    if not facts_by_id:
        return {}
    sessions = sorted({f["session_id"] for f in facts_by_id.values()})
    quizzes = await SessionActivity.select(SessionActivity.id, SessionActivity.session, SessionActivity.title).where(
        SessionActivity.session.is_in(sessions) & (SessionActivity.kind == "quiz")
        & SessionActivity.retired_at.is_null()).order_by(SessionActivity.position).order_by(SessionActivity.id)
    by_session: dict[int, list[dict]] = {}
    for quiz in quizzes:
        by_session.setdefault(quiz["session"], []).append(quiz)
    best: dict[tuple[int, int], tuple[int, bool]] = {}
    if quizzes:
        for attempt in await QuizAttempt.select(QuizAttempt.enrolment, QuizAttempt.activity, QuizAttempt.score,
                                                QuizAttempt.passed).where(
                QuizAttempt.enrolment.is_in(sorted(facts_by_id)) & QuizAttempt.activity.is_in([q["id"] for q in quizzes])):
            key = (attempt["enrolment"], attempt["activity"])
            score, passed = best.get(key, (-1, False))
            best[key] = (max(score, attempt["score"]), passed or bool(attempt["passed"]))
    results = {}
    for enrolment_id, facts in facts_by_id.items():
        results[enrolment_id] = [
            {"titre": q["title"], "score": best[(enrolment_id, q["id"])][0] if (enrolment_id, q["id"]) in best else None,
             "reussi": best.get((enrolment_id, q["id"]), (0, False))[1]}
            for q in by_session.get(facts["session_id"], [])]
    return results
