"""Certificates: the results of the evaluation of learning the attestation de fin de formation states
(article L6353-1 of the Code du travail, layout 4): per quiz of the session, the learner's best score
and whether that attempt passed — for a batch of enrolments in two queries, frozen in the snapshot.

The attempt that counts is ``assessments.counting_attempts``'s, the one rule of every page: the best
attempt (the highest score, the latest of equal ones), the same attempt the results per objective
(« acquis ») come from. An entry assessment (« Positionnement (entrée) ») is not pass/fail: it is
left out of the table and stated apart (« positionnements »: its first attempt's score)."""

from __future__ import annotations

from app.services.assessments import counting_attempts
from app.tables.catalogue import Assessment, SessionActivity

NO_EVALUATION = "Aucune évaluation"


async def quiz_results(facts_by_id: dict[int, dict]) -> dict[int, dict]:
    """{enrolment id: {"evaluations": [{"titre", "score" (best %, or None when never attempted),
    "reussi" (bool)}], "positionnements": [{"titre", "score" (first attempt %, or None)}]}}, the
    quizzes in the session's order (retired ones left out)."""
    if not facts_by_id:
        return {}
    sessions = sorted({f["session_id"] for f in facts_by_id.values()})
    quizzes = await SessionActivity.select(SessionActivity.id, SessionActivity.session, SessionActivity.title,
                                           SessionActivity.assessment).where(
        SessionActivity.session.is_in(sessions) & (SessionActivity.kind == "quiz")
        & SessionActivity.retired_at.is_null()).order_by(SessionActivity.position).order_by(SessionActivity.id)
    by_session: dict[int, list[dict]] = {}
    for quiz in quizzes:
        by_session.setdefault(quiz["session"], []).append(quiz)
    entry = [q["id"] for q in quizzes if q["assessment"] == Assessment.entry.value]
    counted = await counting_attempts(entry, [q["id"] for q in quizzes], list(facts_by_id)) if quizzes else {}
    results = {}
    for enrolment_id, facts in facts_by_id.items():
        evaluations, positionnements = [], []
        for q in by_session.get(facts["session_id"], []):
            attempt = counted.get((enrolment_id, q["id"]))
            if q["assessment"] == Assessment.entry.value:
                positionnements.append({"titre": q["title"], "score": attempt["score"] if attempt else None})
            else:
                evaluations.append({"titre": q["title"], "score": attempt["score"] if attempt else None,
                                    "reussi": bool(attempt and attempt["passed"])})
        results[enrolment_id] = {"evaluations": evaluations, "positionnements": positionnements}
    return results
