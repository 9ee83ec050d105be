"""Entry and exit assessments tied to the course's objectives (Qualiopi indicators 8 and 11).

A quiz activity may be flagged « Positionnement (entrée) » (``assessment`` "entry") or « Évaluation
des acquis (sortie) » ("exit"), and its questions tagged with one of the template's objectives
(``"objective": n`` in the question's JSON, ``[Objectif n]`` in the editor's text: app/services/learner.py).

Per enrolment and objective:
- the entry result is the first attempt at the entry quiz (positioning is what they knew before the
  training, so a retry does not overwrite it), the exit result the best attempt at the exit quiz (the
  highest score, the latest of equal ones): the attempt the attestation's « Meilleur score » states,
  so its two tables never contradict each other (``counting_attempts``, also used by
  app/services/certificates/evaluation.py);
- a result is the percent of that objective's questions answered exactly right (the rule of
  ``learner.grade``, rounded down), over the assessment quizzes of that kind the learner attempted;
- the objective is « atteint » when the exit percent reaches the quiz's pass mark (with several exit
  quizzes tagging it, the highest of their pass marks).
Untagged questions count in the overall score only. A tag whose number is no longer an objective (the
template's objectives shortened afterwards) counts in the overall score only, too.

Retired activities are left out, as everywhere a learner's results are stated. Set-based: the
assessment quizzes of any number of sessions in one query, the attempts that count in one more.
"""

from __future__ import annotations

import json
import re
import unicodedata

from app.tables.catalogue import Assessment, CourseTemplate, SessionActivity, TemplateActivity, TrainingSession
from app.tables.learning import Enrolment, QuizAttempt

ASSESSMENT_LABELS = {
    Assessment.none.value: "Aucune",
    Assessment.entry.value: "Positionnement (entrée)",
    Assessment.exit.value: "Évaluation des acquis (sortie)",
}
ASSESSMENT_CHOICES = list(ASSESSMENT_LABELS.items())

# A bullet ("-", "•", "*", "–") or a numbering ("1.", "1)", "1 -") in front of an objective's line.
_BULLET = re.compile(r"^\s*(?:[-•*–—·]+|\d+\s*[.)°-])\s*")
# The inside of a question's leading bracket, accents folded: "Objectif 2", "O 2", "o2". The number is
# 1 to 3 ASCII digits: never "١" or "²" (digits to ``\d`` and ``int()``, not to a person), never 5,000
# digits (``int()`` refuses more than 4,300: a 500) — such a bracket reads as a tag gone wrong.
_TAG = re.compile(r"^\s*(?:objectifs?|obj\.?|o)\s*([0-9]{1,3})\s*$", re.IGNORECASE)
_LOOKS_LIKE_TAG = re.compile(r"^\s*(?:objectifs?|obj\.?|o)\b", re.IGNORECASE)


def objective_lines(text: str | None) -> list[str]:
    """The template's objectives, one per non-empty line, bullets and numbering stripped; objective
    n is the n-th (numbered from 1)."""
    out = []
    for line in (text or "").replace("\r\n", "\n").split("\n"):
        cleaned = _BULLET.sub("", line, count=1).strip() if line.strip() else ""
        if cleaned:
            out.append(cleaned)
    return out


def _fold(text: str) -> str:
    """Accents removed ("OBJÉCTIF" → "OBJECTIF"). Canonical decomposition only: NFKD would also turn
    a full-width "１" or a superscript "²" into "1" and "2", which are not what a person typed."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def split_tag(line: str) -> tuple[int | None, str, bool]:
    """A question line's objective tag: (number or None, the question without the tag, whether the
    line began with a bracket meant as a tag but unreadable, e.g. « [Objectif] »). A leading bracket
    that is not a tag (« [Cas pratique] … ») is part of the question."""
    match = re.match(r"^\[([^\]]*)\]\s*", line)
    if not match:
        return None, line, False
    inside = _fold(match.group(1))
    tag = _TAG.match(inside)
    if tag:
        return int(tag.group(1)), line[match.end():].strip(), False
    if _LOOKS_LIKE_TAG.match(inside):
        return None, line, True
    return None, line, False


def question_right(question: dict, chosen) -> bool:
    """Answered exactly right: the right choices, and only them (``learner.grade``'s rule)."""
    return set(chosen or []) == {j for j, c in enumerate(question["choices"]) if c["correct"]}


async def template_objectives(template_id: int) -> list[str]:
    row = await CourseTemplate.select(CourseTemplate.objectives).where(CourseTemplate.id == template_id).first()
    return objective_lines(row["objectives"] if row else "")


async def session_objectives(session_id: int) -> list[str]:
    """A session's objectives are its template's (none for a session made without a template)."""
    row = await TrainingSession.select(TrainingSession.template.objectives.as_alias("objectives")).where(
        TrainingSession.id == session_id).first()
    return objective_lines(row["objectives"] if row else "")


async def objective_count(owner, owner_id: int) -> int:
    """How many objectives an activity's owner has; ``owner`` is the activity's foreign key column
    (TemplateActivity.template or SessionActivity.session)."""
    if owner._meta.table is TemplateActivity:
        return len(await template_objectives(owner_id))
    return len(await session_objectives(owner_id))


# -- results --------------------------------------------------------------------------------------
def _questions(raw: str) -> list[dict]:
    try:
        questions = json.loads(raw) if raw else []
    except ValueError:
        return []
    return questions if isinstance(questions, list) else []


async def _quizzes(session_ids: list[int]) -> dict[int, dict]:
    """{session id: {"objectives": [...], "entry": [quiz], "exit": [quiz]}} for the sessions that have
    an assessment quiz (not retired). One query."""
    if not session_ids:
        return {}
    rows = await SessionActivity.select(
        SessionActivity.id, SessionActivity.session, SessionActivity.title, SessionActivity.assessment,
        SessionActivity.quiz, SessionActivity.pass_mark,
        SessionActivity.session.template.objectives.as_alias("objectives"),
    ).where(SessionActivity.session.is_in(sorted(set(session_ids))) & (SessionActivity.kind == "quiz")
            & SessionActivity.assessment.is_in([Assessment.entry.value, Assessment.exit.value])
            & SessionActivity.retired_at.is_null()).order_by(SessionActivity.position).order_by(SessionActivity.id)
    out: dict[int, dict] = {}
    for r in rows:
        entry = out.setdefault(r["session"], {"objectives": objective_lines(r["objectives"]), "entry": [], "exit": []})
        entry[r["assessment"]].append({"id": r["id"], "title": r["title"], "pass_mark": r["pass_mark"],
                                       "questions": _questions(r["quiz"])})
    return out


def _ids(values) -> str:
    return ", ".join(str(int(i)) for i in sorted(set(values)))


async def counting_attempts(entry_ids, other_ids, enrolment_ids=None) -> dict[tuple[int, int], dict]:
    """{(enrolment, activity): the attempt that counts} for the quizzes ``entry_ids`` (entry
    assessments) and ``other_ids`` (exit assessments and ordinary quizzes), of ``enrolment_ids``
    (None: every learner). One query. The one rule every page and the attestation state:
    - at an entry assessment, the FIRST attempt (what the learner knew before the training; a retry
      does not overwrite it);
    - at any other quiz, the BEST attempt: the highest score, the latest of equal ones (the
      attestation's « Meilleur score »; the results per objective come from that same attempt, so
      the two never contradict each other).
    Each: {"score", "passed", "answers" ({question index: chosen choices})}."""
    entry_ids, other_ids = sorted(set(entry_ids)), sorted(set(other_ids) - set(entry_ids))
    who = ""
    if enrolment_ids is not None:
        if not enrolment_ids:
            return {}
        who = f" AND enrolment IN ({_ids(enrolment_ids)})"
    parts = [f"SELECT enrolment, activity, score, passed, answers, ROW_NUMBER() OVER (PARTITION BY enrolment, activity "
             f"ORDER BY {order}) AS pick FROM quiz_attempt WHERE activity IN ({_ids(ids)}){who}"
             for ids, order in ((entry_ids, "id"), (other_ids, "score DESC, id DESC")) if ids]
    if not parts:
        return {}
    rows = await QuizAttempt.raw("SELECT enrolment, activity, score, passed, answers FROM ("
                                 + " UNION ALL ".join(parts) + ") AS ranked WHERE pick = 1")
    out = {}
    for r in rows:
        try:
            answers = {int(k): v for k, v in json.loads(r["answers"] or "{}").items()}
        except (ValueError, AttributeError):
            answers = {}
        out[(r["enrolment"], r["activity"])] = {"score": r["score"], "passed": bool(r["passed"]), "answers": answers}
    return out


async def _attempts(quizzes: dict[int, dict], enrolment_ids: list[int] | None) -> dict[tuple[int, int], dict]:
    """{(enrolment, activity): answers} — the first attempt at each entry quiz, the best at each exit
    quiz (``counting_attempts``). One query."""
    counted = await counting_attempts([q["id"] for s in quizzes.values() for q in s["entry"]],
                                      [q["id"] for s in quizzes.values() for q in s["exit"]], enrolment_ids)
    return {key: attempt["answers"] for key, attempt in counted.items()}


def _percent(right: int, total: int) -> int | None:
    return right * 100 // total if total else None


def _phase(quizzes: list[dict], count: int, enrolment_id: int, attempts: dict) -> tuple[list, int | None, bool]:
    """Per objective (1..count) the percent right over the quizzes attempted (None: not assessed),
    the overall percent (untagged questions included), and whether any quiz was attempted."""
    right, total = [0] * (count + 1), [0] * (count + 1)
    all_right = all_total = 0
    attempted = False
    for quiz in quizzes:
        answers = attempts.get((enrolment_id, quiz["id"]))
        if answers is None:
            continue
        attempted = True
        for i, question in enumerate(quiz["questions"]):
            ok = question_right(question, answers.get(i))
            all_right, all_total = all_right + ok, all_total + 1
            n = question.get("objective")
            if isinstance(n, int) and 1 <= n <= count:
                right[n], total[n] = right[n] + ok, total[n] + 1
    return [_percent(right[n], total[n]) for n in range(1, count + 1)], _percent(all_right, all_total), attempted


def _thresholds(quizzes: list[dict], count: int) -> list[int | None]:
    """Per objective, the pass mark that makes it « atteint »: the highest of the exit quizzes that
    assess it (None when no exit question is tagged with it)."""
    marks: list[int | None] = [None] * count
    for quiz in quizzes:
        for question in quiz["questions"]:
            n = question.get("objective")
            if isinstance(n, int) and 1 <= n <= count:
                marks[n - 1] = max(marks[n - 1] or 0, quiz["pass_mark"])
    return marks


def _enrolment_result(session: dict, enrolment_id: int, attempts: dict) -> dict:
    objectives = session["objectives"]
    count = len(objectives)
    entry, entry_score, entry_done = _phase(session["entry"], count, enrolment_id, attempts)
    exit_, exit_score, exit_done = _phase(session["exit"], count, enrolment_id, attempts)
    marks = _thresholds(session["exit"], count)
    rows = [{"number": n + 1, "text": objectives[n], "entry": entry[n], "exit": exit_[n], "pass_mark": marks[n],
             "reached": None if exit_[n] is None or marks[n] is None else exit_[n] >= marks[n]}
            for n in range(count)]
    return {"objectives": rows, "entry_score": entry_score, "exit_score": exit_score,
            "entry_done": entry_done, "exit_done": exit_done,
            "has_entry": bool(session["entry"]), "has_exit": bool(session["exit"])}


async def for_enrolments(enrolments: dict[int, int]) -> dict[int, dict]:
    """{enrolment id: its results} for ``enrolments`` ({enrolment id: session id}), only those whose
    session has an assessment quiz. Two queries whatever their number:
    {"objectives": [{"number", "text", "entry", "exit", "pass_mark", "reached"}], "entry_score",
    "exit_score", "entry_done", "exit_done", "has_entry", "has_exit"}."""
    quizzes = await _quizzes(list(enrolments.values()))
    attempts = await _attempts(quizzes, list(enrolments)) if quizzes else {}
    return {e: _enrolment_result(quizzes[s], e, attempts) for e, s in enrolments.items() if s in quizzes}


def _average(values: list[int]) -> int | None:
    return round(sum(values) / len(values)) if values else None


def _overview(quizzes: dict, learners: list[dict], attempts: dict) -> dict:
    """Per objective the average entry and exit results (over the learners assessed on it) and how
    many reached it; per learner (``learners``: dicts with "id", the enrolment) entry vs exit."""
    rows = [{**learner, **_enrolment_result(quizzes, learner["id"], attempts)} for learner in learners]
    objectives = []
    marks = _thresholds(quizzes["exit"], len(quizzes["objectives"]))
    for n, text in enumerate(quizzes["objectives"]):
        entries = [r["objectives"][n]["entry"] for r in rows if r["objectives"][n]["entry"] is not None]
        exits = [r["objectives"][n]["exit"] for r in rows if r["objectives"][n]["exit"] is not None]
        objectives.append({"number": n + 1, "text": text, "entry": _average(entries), "entry_count": len(entries),
                           "exit": _average(exits), "exit_count": len(exits), "pass_mark": marks[n],
                           "reached": sum(1 for r in rows if r["objectives"][n]["reached"])})
    return {"objectives": objectives, "learners": rows, "has_entry": bool(quizzes["entry"]),
            "has_exit": bool(quizzes["exit"]),
            "entry_quizzes": [q["title"] for q in quizzes["entry"]], "exit_quizzes": [q["title"] for q in quizzes["exit"]],
            "entry_done": sum(1 for r in rows if r["entry_done"]), "exit_done": sum(1 for r in rows if r["exit_done"]),
            "entry_score": _average([r["entry_score"] for r in rows if r["entry_score"] is not None]),
            "exit_score": _average([r["exit_score"] for r in rows if r["exit_score"] is not None])}


async def session_overview(session_id: int) -> dict | None:
    """« Positionnement et acquis » of a session for its learners actively enrolled (by name); None when
    the session has no assessment quiz. Three queries: the quizzes, the learners, the attempts."""
    quizzes = (await _quizzes([session_id])).get(session_id)
    if quizzes is None:
        return None
    learners = await Enrolment.select(
        Enrolment.id, Enrolment.user.first_name.as_alias("first_name"), Enrolment.user.last_name.as_alias("last_name"),
    ).where((Enrolment.session == session_id) & (Enrolment.active == True)).order_by(  # noqa: E712
        Enrolment.user.last_name_key).order_by(Enrolment.user.first_name_key).order_by(Enrolment.id)
    return _overview(quizzes, learners, await _attempts({session_id: quizzes}, None))


async def certificate_results(facts_by_id: dict[int, dict]) -> dict[int, list[dict]]:
    """For the attestation de fin de formation: {enrolment id: [{"numero", "objectif", "pourcentage"
    (None: not assessed), "atteint"}]} for enrolments whose session has an exit assessment and
    objectives; frozen in the snapshot at issue (key "acquis")."""
    results = await for_enrolments({e: f["session_id"] for e, f in facts_by_id.items()})
    return {e: [{"numero": o["number"], "objectif": o["text"], "pourcentage": o["exit"], "atteint": bool(o["reached"])}
                for o in r["objectives"]]
            for e, r in results.items() if r["has_exit"] and r["objectives"]}
