"""The learner's space (SPEC D1): my sessions, a session's activities with their state, opening an
activity, « J'ai terminé », quizzes, and the session discussion.

Access: a learner sees a session only while actively enrolled in it, and only once it is visible
and started; anything else answers exactly like a missing session ("Session introuvable.").
Completions are written through `learning.set_completion`, in the request's transaction.
"""

from __future__ import annotations

import json
from typing import Annotated
from dataclasses import dataclass
from datetime import datetime

import nh3

from app import db
from app.dates import now, today
from app.services import learning
from app.services.assessments import question_right, split_tag
from app.services.certificates import seal
from app.services.learning import min_attendance
from app.services.ratelimit import Limit
from app.services.errors import NotFound, ValidationFailed
from app.services.session_names import name_for_documents
from app.services.text import Multiline
from app.tables.catalogue import CompletionRule, SessionActivity, SessionSlot, TrainingSession
from app.tables.certificates import Certificate, CertificateStatus
from app.tables.evidence import SessionTrainer
from app.tables.learning import ActivityCompletion, CompletionHow, DiscussionMessage, Enrolment, QuizAttempt
from app.validation import MaxLen, Required, declared_errors

# Moodle's reminder module (« Réengagement », seed: « caché pour les apprenants »): kept for the
# managers, never shown to learners, never required (issue 20 point 8).
HIDDEN_FROM_LEARNERS = ("reminder",)

NOT_FOUND = "Session introuvable."
ACTIVITY_NOT_FOUND = "Activité introuvable."
COMPLETION_LABELS = {
    "none": "Sans suivi d'achèvement",
    "manual": "Marquée terminée par l'apprenant (« J'ai terminé »)",
    "view": "Terminée à l'ouverture",
    "quiz": "Terminée quand le test est réussi",
}
COMPLETION_CHOICES = list(COMPLETION_LABELS.items())
MESSAGE_MAX = 4000

# -- rich text ------------------------------------------------------------------------------------
ALLOWED_TAGS = {"p", "br", "strong", "em", "b", "i", "u", "ul", "ol", "li", "h2", "h3", "h4", "blockquote",
                "a", "code", "pre", "table", "thead", "tbody", "tr", "th", "td", "hr", "img"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt"}, "th": {"scope"}}


def clean_html(raw: str) -> str:
    """A page's rich text, kept only with harmless tags: no script, no event handler, no javascript:
    URL survives (nh3 = the Ammonia sanitiser). Links get rel="noopener noreferrer"."""
    return nh3.clean(raw or "", tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")


# -- quizzes --------------------------------------------------------------------------------------
def parse_quiz_text(text: str, objectives: int | None = None) -> list[dict]:
    """The editor's plain-text format, one question per block (blank line between):
    first line the question, then one choice per line, "* " before a right answer, "- " before a
    wrong one. One right answer: a single-choice question; several: multiple choice.
    The question line may begin with an objective tag, « [Objectif 2] » (also « [O 2] », « [O2] »):
    ``"objective": 2`` in its JSON; ``objectives`` is how many the template has (None: not checked)."""
    questions, errors = [], []
    for n, block in enumerate([b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()], start=1):
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        objective, question, unreadable = split_tag(lines[0])
        choices = []
        named = f"Question {n} (« {_short(question)} »)"
        if unreadable:
            errors.append(f"{named} : l'étiquette d'objectif s'écrit « [Objectif N] », N étant le numéro de l'objectif.")
        elif objective is not None and not question:
            errors.append(f"Question {n} : le texte de la question manque après « [Objectif {objective}] ».")
        elif objective is not None and objectives is not None and not 1 <= objective <= objectives:
            errors.append(f"{named} : l'objectif {objective} n'existe pas — " + (
                f"le cours modèle en compte {objectives} (numérotés de 1 à {objectives})." if objectives else
                "le cours modèle n'a pas d'objectifs pédagogiques."))
        for line in lines[1:]:
            if line[:1] in "*-" and line[1:].strip():
                choices.append({"text": line[1:].strip(), "correct": line[0] == "*"})
            else:
                errors.append(f"Question {n} : chaque réponse commence par « * » (juste) ou « - » (fausse).")
                break
        if len(choices) < 2:
            errors.append(f"Question {n} : au moins deux réponses.")
        elif not any(c["correct"] for c in choices):
            errors.append(f"Question {n} : au moins une réponse juste (« * »).")
        questions.append({"text": question, "choices": choices, **({"objective": objective} if objective else {})})
    if errors:
        raise ValidationFailed({"quiz": " ".join(dict.fromkeys(errors))})
    return questions


def _short(text: str, length: int = 60) -> str:
    return text if len(text) <= length else text[:length - 1].rstrip() + "…"


def quiz_text(questions: list[dict]) -> str:
    return "\n\n".join((f"[Objectif {q['objective']}] " if q.get("objective") else "") + q["text"] + "\n"
                       + "\n".join(("* " if c["correct"] else "- ") + c["text"] for c in q["choices"])
                       for q in questions)


def load_quiz(raw: str) -> list[dict]:
    try:
        questions = json.loads(raw) if raw else []
    except ValueError:
        return []
    for q in questions:
        q["multiple"] = sum(1 for c in q["choices"] if c["correct"]) > 1
    return questions


def grade(questions: list[dict], answers: dict[int, list[int]]) -> int:
    """Percent of questions answered exactly right (the right choices, and only them)."""
    if not questions:
        return 0
    right = sum(1 for i, q in enumerate(questions) if question_right(q, answers.get(i, [])))
    return right * 100 // len(questions)


# -- access ---------------------------------------------------------------------------------------
async def learner_session(user_id: int, session_id: int) -> dict:
    """The session and this learner's enrolment, or NotFound: not actively enrolled, hidden, not
    started and missing all answer alike. One query."""
    row = await Enrolment.select(
        Enrolment.id.as_alias("enrolment_id"), Enrolment.required_done, Enrolment.required_total,
        Enrolment.percent, Enrolment.completed_at, Enrolment.last_visit, Enrolment.last_activity,
        Enrolment.attended_minutes, Enrolment.session.min_attendance_percent.as_alias("min_attendance_percent"),
        Enrolment.session.id.as_alias("id"), Enrolment.session.full_name.as_alias("full_name"),
        Enrolment.session.code.as_alias("code"), Enrolment.session.start_date.as_alias("start_date"),
        Enrolment.session.end_date.as_alias("end_date"),
        Enrolment.session.progress_block.as_alias("progress_block"),
        Enrolment.session.discussion_block.as_alias("discussion_block"),
        Enrolment.session.establishment.as_alias("establishment"),
        Enrolment.session.cancelled_at.as_alias("cancelled_at"),
        Enrolment.session.place.as_alias("place"), Enrolment.session.remote_url.as_alias("remote_url"),
        Enrolment.session.contact.as_alias("contact"), Enrolment.session.what_to_bring.as_alias("what_to_bring"),
    ).where(
        (Enrolment.session == session_id) & (Enrolment.user == user_id) & (Enrolment.active == True)  # noqa: E712
        & (Enrolment.session.visible == True) & (Enrolment.session.start_date <= today())  # noqa: E712
    ).first()
    if row is None:
        raise NotFound(NOT_FOUND)

    # A name left stating other dates than the session's is not shown to the learner (issue 20).
    row["full_name"] = name_for_documents(row["full_name"], row["start_date"], row["end_date"])
    # The attendance asked of them: the session's, else the platform's — when it has slots (issue 20).
    has_slots = await SessionSlot.exists().where(SessionSlot.session == session_id)
    row["min_attendance_percent"] = min_attendance(row["min_attendance_percent"]) if has_slots else None
    return row


async def session_activity(session_id: int, activity_id: int) -> dict:
    row = await SessionActivity.select(
        SessionActivity.all_columns(exclude=[SessionActivity.file]),
        SessionActivity.file.as_alias("file"), SessionActivity.file.name.as_alias("file_name"),
        SessionActivity.file.size.as_alias("file_size"), SessionActivity.file.content_type.as_alias("file_type"),
    ).where((SessionActivity.id == activity_id) & (SessionActivity.session == session_id)
             & SessionActivity.retired_at.is_null() & SessionActivity.kind.not_in(list(HIDDEN_FROM_LEARNERS))).first()
    if row is None:
        raise NotFound(ACTIVITY_NOT_FOUND)
    return row


# -- pages ----------------------------------------------------------------------------------------
async def home(user_id: int) -> dict:
    """My sessions, split upcoming / in progress / completed, and where to resume. One query."""
    rows = await Enrolment.select(
        Enrolment.session.id.as_alias("id"), Enrolment.session.full_name.as_alias("full_name"),
        Enrolment.session.code.as_alias("code"), Enrolment.session.start_date.as_alias("start_date"),
        Enrolment.session.end_date.as_alias("end_date"), Enrolment.percent, Enrolment.required_done,
        Enrolment.required_total, Enrolment.completed_at, Enrolment.last_visit,
        Enrolment.last_activity.id.as_alias("last_activity"), Enrolment.last_activity.title.as_alias("last_title"),
        Enrolment.session.cancelled_at.as_alias("cancelled_at"),
    ).where(
        (Enrolment.user == user_id) & (Enrolment.active == True) & (Enrolment.session.visible == True)  # noqa: E712
    ).order_by(Enrolment.session.start_date)

    for r in rows:  # a name left stating other dates than the session's is not shown (issue 20)
        r["full_name"] = name_for_documents(r["full_name"], r["start_date"], r["end_date"])
    day = today()
    upcoming = [r for r in rows if r["start_date"] > day]
    completed = [r for r in rows if r["start_date"] <= day and r["completed_at"]]
    in_progress = [r for r in rows if r["start_date"] <= day and not r["completed_at"]]
    opened = [r for r in rows if r["start_date"] <= day and r["last_activity"] and r["last_visit"]]
    resume = max(opened, key=lambda r: r["last_visit"]) if opened else None
    return {"upcoming": upcoming, "in_progress": in_progress, "completed": completed, "resume": resume,
            "former": await former_certificates(user_id)}


async def former_certificates(user_id: int) -> list[dict]:
    """The valid certificates of sessions the learner no longer belongs to: training completed is
    never erased, and its certificate stays theirs to download (certificates.learner_certificate)."""
    return await Certificate.select(
        Certificate.enrolment.session.id.as_alias("id"), Certificate.enrolment.session.full_name.as_alias("full_name"),
        Certificate.enrolment.session.code.as_alias("code"), Certificate.issued_at,
    ).where((Certificate.enrolment.user == user_id) & (Certificate.enrolment.active == False)  # noqa: E712
            & (Certificate.status == CertificateStatus.valid) & (Certificate.kind == "completion")).order_by(
        Certificate.issued_at, ascending=False)


async def activities_with_state(session_id: int, enrolment_id: int) -> list[dict]:
    """The session's activities in order, each with this learner's completion date. One query."""
    return await SessionActivity.raw(
        "SELECT a.id, a.position, a.kind, a.title, a.required, a.completion, c.completed_at "
        "FROM session_activity a LEFT JOIN activity_completion c ON c.activity = a.id AND c.enrolment = {} "
        "WHERE a.session = {} AND a.retired_at IS NULL AND a.kind NOT IN ('reminder') "  # HIDDEN_FROM_LEARNERS
        "ORDER BY a.position, a.id", enrolment_id, session_id)


async def progress_block(enrolment_id: int) -> dict:
    return await Enrolment.select(Enrolment.required_done, Enrolment.required_total, Enrolment.percent,
                                  Enrolment.completed_at).where(Enrolment.id == enrolment_id).first()


async def open_activity(session: dict, activity: dict) -> None:
    """The learner opened this activity: last visit, « Reprendre » target, and the on-view rule."""
    async with db.transaction():
        await learning.record_visit(session["enrolment_id"], activity["id"])
        if activity["completion"] == CompletionRule.view:
            await learning.set_completion(session["enrolment_id"], activity["id"], True, CompletionHow.automatic)
    if activity["completion"] == CompletionRule.view:  # a certificate issued above: its PDF, now committed
        await seal([session["enrolment_id"]])


async def completion_of(enrolment_id: int, activity_id: int) -> datetime | None:
    row = await ActivityCompletion.select(ActivityCompletion.completed_at).where(
        (ActivityCompletion.enrolment == enrolment_id) & (ActivityCompletion.activity == activity_id)).first()
    return row["completed_at"] if row else None


async def mark_done(session: dict, activity: dict, done: bool = True) -> None:
    if activity["completion"] != CompletionRule.manual:
        raise ValidationFailed({"activity": "Cette activité ne se marque pas terminée à la main."})
    await learning.set_completion(session["enrolment_id"], activity["id"], done, CompletionHow.manual)


async def submit_quiz(session: dict, activity: dict, answers: dict[int, list[int]],
                      started_at: datetime | None) -> dict:
    """Record the attempt (answers, score, time); a pass completes the activity in the same transaction."""
    questions = load_quiz(activity["quiz"])
    if not questions:
        raise ValidationFailed({"quiz": "Ce test n'a pas encore de questions."})
    clean = {i: sorted({c for c in answers.get(i, []) if 0 <= c < len(q["choices"])}) for i, q in enumerate(questions)}
    if any(not clean[i] for i in clean):
        raise ValidationFailed({"quiz": "Répondez à toutes les questions."})
    score = grade(questions, clean)
    passed = score >= activity["pass_mark"]
    moment = now()
    if started_at is not None and not (moment.timestamp() - 86400 * 7 < started_at.timestamp() <= moment.timestamp()):
        started_at = None
    async with db.transaction():
        await QuizAttempt.insert(QuizAttempt(
            enrolment=session["enrolment_id"], activity=activity["id"], answers=json.dumps(clean), score=score,
            passed=passed, started_at=started_at, submitted_at=moment))
        if passed and activity["completion"] == CompletionRule.quiz:
            await learning.set_completion(session["enrolment_id"], activity["id"], True, CompletionHow.automatic)
    if passed:  # a certificate issued above: its PDF, now committed
        await seal([session["enrolment_id"]])
    return {"score": score, "passed": passed}


def feedback(questions: list[dict], attempt: dict) -> list[dict]:
    """Question by question, whether ``attempt``'s answers were right, with the choices the learner
    made (the right answers are not given away: the learner reads the course and tries again)."""
    try:
        answers = {int(k): v for k, v in json.loads(attempt.get("answers") or "{}").items()}
    except (ValueError, AttributeError):
        answers = {}
    out = []
    for i, q in enumerate(questions):
        chosen = [c for c in answers.get(i, []) if isinstance(c, int) and 0 <= c < len(q["choices"])]
        right = question_right(q, chosen)
        out.append({"number": i + 1, "text": q["text"], "right": right,
                    "chosen": [q["choices"][c]["text"] for c in chosen]})
    return out


async def attempts(enrolment_id: int, activity_id: int) -> list[dict]:
    return await QuizAttempt.select(QuizAttempt.score, QuizAttempt.passed, QuizAttempt.submitted_at,
                                    QuizAttempt.answers).where(
        (QuizAttempt.enrolment == enrolment_id) & (QuizAttempt.activity == activity_id)).order_by(
        QuizAttempt.id, ascending=False)


# -- discussion -----------------------------------------------------------------------------------
async def messages(session_id: int, with_hidden: bool = False, limit: int = 200) -> list[dict]:
    """The session's latest messages, oldest first; ``trainer`` marks those of its trainers (issue 22),
    who read and post here as learners and managers do."""
    query = DiscussionMessage.select(
        DiscussionMessage.id, DiscussionMessage.author, DiscussionMessage.body, DiscussionMessage.created_at,
        DiscussionMessage.hidden_at,
        DiscussionMessage.author.first_name.as_alias("first_name"),
        DiscussionMessage.author.last_name.as_alias("last_name"),
        DiscussionMessage.hidden_by.first_name.as_alias("hidden_by_first"),
        DiscussionMessage.hidden_by.last_name.as_alias("hidden_by_last"),
    ).where(DiscussionMessage.session == session_id)
    if not with_hidden:
        query = query.where(DiscussionMessage.hidden_at.is_null())
    rows = await query.order_by(DiscussionMessage.id, ascending=False).limit(limit)
    trainers = {r["user"] for r in await SessionTrainer.select(SessionTrainer.user).where(
        SessionTrainer.session == session_id)} if rows else set()
    for r in rows:
        r["trainer"] = r["author"] in trainers
    return rows[::-1]


@dataclass
class MessageForm:
    body: Annotated[Multiline, Required("Écrivez un message avant de l'envoyer."),
                    MaxLen(MESSAGE_MAX, message=f"Le message ne peut pas dépasser {MESSAGE_MAX} caractères.")] = ""


POST_LIMIT = Limit("discussion", 10, 60)
TOO_MANY = "Vous avez envoyé beaucoup de messages en peu de temps : attendez une minute avant le suivant."


async def post_message(redis, session_id: int, author_id: int, form: MessageForm) -> None:
    """One message in a session's discussion, by a learner, a trainer or a manager (at most 10 a minute each)."""
    if not await POST_LIMIT.allow(redis, str(author_id)):
        raise ValidationFailed({"body": TOO_MANY})
    body = form.body.strip()
    if errors := declared_errors(form):
        raise ValidationFailed(errors)
    await DiscussionMessage.insert(DiscussionMessage(session=session_id, author=author_id, body=body))


async def hide_message(session_id: int, message_id: int, by: int) -> None:
    rows = await DiscussionMessage.update({DiscussionMessage.hidden_at: now(), DiscussionMessage.hidden_by: by}).where(
        (DiscussionMessage.id == message_id) & (DiscussionMessage.session == session_id)
        & DiscussionMessage.hidden_at.is_null()).returning(DiscussionMessage.id)
    if not rows and not await DiscussionMessage.exists().where(
            (DiscussionMessage.id == message_id) & (DiscussionMessage.session == session_id)):
        raise NotFound("Message introuvable.")


async def session_row(session_id: int) -> dict:
    row = await TrainingSession.select(TrainingSession.id).where(TrainingSession.id == session_id).first()
    if row is None:
        raise NotFound(NOT_FOUND)
    return row
