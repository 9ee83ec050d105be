"""A learner's answer to a survey: what the answering page shows (open or not yet, answered or not)
and recording one answer per learner per survey, whatever the clicks.

The rule: in one transaction, make the invitation if it is missing (INSERT … ON CONFLICT DO NOTHING),
mark it answered with an UPDATE … WHERE answered = false RETURNING, and write the response only when
that update returned the row. A double submit, two tabs, the link and the session page at once: the
second update waits for the first, finds it answered, and nothing more is written.

Anonymity: an anonymous survey's response holds no enrolment and no date, and its invitation no
date of answer; when it is answered its ``reminded_at`` is cleared too (the count of reminders
stays), so no per-person instant is left next to « has answered ». Its invitation is made when the
page is shown (``ensure_invitation``, its own transaction), never in the answering transaction, so
invitations and responses are not made one-to-one in the same order. What remains, honestly:
- the signed link carries the invitation's id in clear (base64 in the URL): a reverse proxy's or
  the app's access log timestamps each POST to /questionnaire/<token>, and could order the answers
  by person; keep such logs short-lived or without the path;
- PostgreSQL itself keeps, until the rows are rewritten (VACUUM FREEZE), the id of the transaction
  that wrote each row (``xmin``): the invitation's UPDATE and the response's INSERT share one, so
  someone with database access can pair them. Responses' ids grow in answering order too.
The results never use any of this; an administrator with database access is trusted not to.
"""

from __future__ import annotations

import json
from datetime import datetime

from app import db
from app.dates import now, today
from app.services.errors import NotFound, ValidationFailed
from app.services.session_names import name_for_documents
from app.services.surveys.invitations import LAST_SLOT_SQL, opening, training_name
from app.services.surveys.links import LEARNER_SALT, read_token
from app.services.surveys.questions import load_questions, read_answers
from app.services.surveys.settings import delays
from app.tables.catalogue import TrainingSession
from app.tables.quality import SurveyInvitation, SurveyResponse

NOT_FOUND = "Questionnaire introuvable."


async def _hot_basis(session_id: int):
    """(last slot as (day, ends) or None, the session's end date): what the hot opening is read from."""
    rows = await TrainingSession.raw(
        f"SELECT s.end_date, {LAST_SLOT_SQL} FROM training_session s WHERE s.id = {{}}", session_id)
    if not rows:
        return None, None
    row = rows[0]
    return ((row["last_day"], row["last_ends"]) if row["last_day"] is not None else None), row["end_date"]


async def survey_state(session_id: int, start_date, enrolment_id: int, completed_at: datetime | None,
                       activity: dict) -> dict:
    """What the answering page needs: the questions, when it opens (None: at the learner's
    completion, not reached), whether it is open, and whether (and when) this learner answered."""
    cold_days = (await delays())["survey_cold_days"]
    invitation = await SurveyInvitation.select(SurveyInvitation.opens_at, SurveyInvitation.answered,
                                               SurveyInvitation.answered_on).where(
        (SurveyInvitation.enrolment == enrolment_id) & (SurveyInvitation.activity == activity["id"])).first()
    if invitation:
        opens_at = invitation["opens_at"]
    else:
        last_slot, end_date = await _hot_basis(session_id)
        opens_at = opening(activity["survey_phase"], start_date, last_slot, completed_at, cold_days, end_date)
    return {
        "questions": load_questions(activity["quiz"]), "opens_at": opens_at,
        "is_open": opens_at is not None and opens_at <= now(),
        "answered": bool(invitation and invitation["answered"]),
        "answered_on": invitation["answered_on"] if invitation else None,
        "anonymous": activity["anonymous"], "phase": activity["survey_phase"],
    }


async def ensure_invitation(enrolment_id: int, activity_id: int, opens_at: datetime) -> None:
    """Make the learner's invitation if it is missing, in its own transaction (an anonymous survey's
    page does it when shown, so the invitation is not made along with the answer)."""
    async with db.transaction():
        await SurveyInvitation.insert(SurveyInvitation(
            enrolment=enrolment_id, activity=activity_id, opens_at=opens_at)).on_conflict(
            target=(SurveyInvitation.enrolment, SurveyInvitation.activity), action="DO NOTHING")


async def shown(enrolment_id: int, activity: dict, state: dict) -> None:
    """The answering page is shown: an anonymous survey open and not answered gets its invitation now."""
    if activity["anonymous"] and state["is_open"] and not state["answered"] and state["questions"]:
        await ensure_invitation(enrolment_id, activity["id"], state["opens_at"])


async def record_answer(enrolment_id: int, session: dict, activity: dict, opens_at: datetime,
                        answers: dict) -> bool:
    """Record the learner's answer once; False when they had answered already (nothing written)."""
    anonymous = bool(activity["anonymous"])
    day = today()
    template = session["template"] if "template" in session else (await TrainingSession.select(
        TrainingSession.template).where(TrainingSession.id == session["id"]).first() or {}).get("template")
    if anonymous:  # normally made when the page was shown; never in the answering transaction
        await ensure_invitation(enrolment_id, activity["id"], opens_at)
    async with db.write_transaction():
        if not anonymous:
            await SurveyInvitation.insert(SurveyInvitation(
                enrolment=enrolment_id, activity=activity["id"], opens_at=opens_at)).on_conflict(
                target=(SurveyInvitation.enrolment, SurveyInvitation.activity), action="DO NOTHING")
        marked = await SurveyInvitation.update({
            SurveyInvitation.answered: True, SurveyInvitation.answered_on: None if anonymous else day,
            **({SurveyInvitation.reminded_at: None} if anonymous else {})}).where(
            (SurveyInvitation.enrolment == enrolment_id) & (SurveyInvitation.activity == activity["id"])
            & (SurveyInvitation.answered == False)  # noqa: E712
        ).returning(SurveyInvitation.id)
        if not marked:
            return False
        await SurveyResponse.insert(SurveyResponse(
            activity=activity["id"], session=session["id"], template=template,
            phase=activity["survey_phase"], enrolment=None if anonymous else enrolment_id,
            submitted_on=None if anonymous else day, answers=json.dumps(answers, ensure_ascii=False)))
    return True


async def answer(session: dict, enrolment_id: int, completed_at, activity: dict, form: dict[str, list[str]]) -> bool:
    """Check and record a learner's answer (from the session page or the mail's link). Refused with
    a French message when the survey is not open yet or the answers are incomplete or invalid."""
    state = await survey_state(session["id"], session["start_date"], enrolment_id, completed_at, activity)
    if state["answered"]:
        return False
    if not state["is_open"]:
        raise ValidationFailed({"survey": "Ce questionnaire n'est pas encore ouvert."},
                               "Ce questionnaire n'est pas encore ouvert.")
    if not state["questions"]:
        raise ValidationFailed({"survey": "Ce questionnaire n'a pas encore de questions."})
    answers = read_answers(state["questions"], form)
    return await record_answer(enrolment_id, session, activity, state["opens_at"], answers)


async def training_of(session: dict) -> str:
    """The training as the learner is told it (course title, dates in words) for a session row."""
    row = await TrainingSession.select(TrainingSession.full_name, TrainingSession.template.title.as_alias("title"),
                                       TrainingSession.start_date, TrainingSession.end_date).where(
        TrainingSession.id == session["id"]).first()
    return training_name(row["full_name"], row["title"], row["start_date"], row["end_date"]) if row else ""


async def invitation_by_token(token: str) -> dict:
    """The invitation a mail's link names, with its survey and session: SurveyLinkProblem for a link
    forged or expired, NotFound for an invitation that no longer leads to an open survey."""
    invitation_id = read_token(LEARNER_SALT, token)
    row = await SurveyInvitation.select(
        SurveyInvitation.id, SurveyInvitation.enrolment, SurveyInvitation.opens_at,
        SurveyInvitation.enrolment.active.as_alias("active"),
        SurveyInvitation.enrolment.completed_at.as_alias("completed_at"),
        SurveyInvitation.enrolment.user.first_name.as_alias("first_name"),
        SurveyInvitation.activity.all_columns(exclude=[SurveyInvitation.activity.file]),
        SurveyInvitation.enrolment.session.id.as_alias("session_id"),
        SurveyInvitation.enrolment.session.template.as_alias("template"),
        SurveyInvitation.enrolment.session.full_name.as_alias("full_name"),
        SurveyInvitation.enrolment.session.template.title.as_alias("template_title"),
        SurveyInvitation.enrolment.session.start_date.as_alias("start_date"),
        SurveyInvitation.enrolment.session.end_date.as_alias("end_date"),
        SurveyInvitation.enrolment.session.cancelled_at.as_alias("cancelled_at"),
    ).where(SurveyInvitation.id == invitation_id).first()
    if row is None or not row["active"] or row["cancelled_at"] is not None:
        raise NotFound(NOT_FOUND)
    activity = {key: row[f"activity.{key}"] for key in
                ("id", "kind", "title", "content", "quiz", "survey_phase", "anonymous", "retired_at", "session")}
    if activity["kind"] != "survey" or activity["retired_at"] is not None:
        raise NotFound(NOT_FOUND)
    session = {"id": row["session_id"], "template": row["template"], "start_date": row["start_date"],
               "end_date": row["end_date"],
               "full_name": name_for_documents(row["full_name"], row["start_date"], row["end_date"]),
               "training": training_name(row["full_name"], row["template_title"], row["start_date"], row["end_date"])}
    return {"invitation": row, "activity": activity, "session": session, "enrolment_id": row["enrolment"],
            "completed_at": row["completed_at"], "first_name": row["first_name"]}
