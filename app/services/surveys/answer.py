"""A learner's answer to a survey: what the answering page shows (open or not yet, answered or not)
and recording one answer per learner per survey, whatever the clicks.

The rule: in one transaction, make the invitation if it is missing (INSERT … ON CONFLICT DO NOTHING),
mark it answered with an UPDATE … WHERE answered = false RETURNING, and write the response only when
that update returned the row. A double submit, two tabs, the link and the session page at once: the
second update waits for the first, finds it answered, and nothing more is written.

Anonymity: an anonymous survey's response holds no enrolment and no date, and its invitation no
date of answer; nothing joins what was answered to who answered beyond « has answered ».
"""

from __future__ import annotations

import json
from datetime import datetime

from app import db
from app.dates import now, today
from app.services.errors import NotFound, ValidationFailed
from app.services.session_names import name_for_documents
from app.services.surveys.invitations import opening
from app.services.surveys.links import LEARNER_SALT, read_token
from app.services.surveys.questions import load_questions, read_answers
from app.services.surveys.settings import delays
from app.tables.catalogue import SessionSlot, TrainingSession
from app.tables.quality import SurveyInvitation, SurveyResponse

NOT_FOUND = "Questionnaire introuvable."


async def _last_slot(session_id: int):
    row = await SessionSlot.select(SessionSlot.day, SessionSlot.ends).where(SessionSlot.session == session_id).order_by(
        SessionSlot.day, ascending=False).order_by(SessionSlot.ends, ascending=False).first()
    return (row["day"], row["ends"]) if row else None


async def survey_state(session_id: int, start_date, enrolment_id: int, completed_at: datetime | None,
                       activity: dict) -> dict:
    """What the answering page needs: the questions, when it opens (None: at the learner's
    completion, not reached), whether it is open, and whether (and when) this learner answered."""
    cold_days = (await delays())["survey_cold_days"]
    invitation = await SurveyInvitation.select(SurveyInvitation.opens_at, SurveyInvitation.answered,
                                               SurveyInvitation.answered_on).where(
        (SurveyInvitation.enrolment == enrolment_id) & (SurveyInvitation.activity == activity["id"])).first()
    opens_at = invitation["opens_at"] if invitation else opening(
        activity["survey_phase"], start_date, await _last_slot(session_id), completed_at, cold_days)
    return {
        "questions": load_questions(activity["quiz"]), "opens_at": opens_at,
        "is_open": opens_at is not None and opens_at <= now(),
        "answered": bool(invitation and invitation["answered"]),
        "answered_on": invitation["answered_on"] if invitation else None,
        "anonymous": activity["anonymous"], "phase": activity["survey_phase"],
    }


async def record_answer(enrolment_id: int, session: dict, activity: dict, opens_at: datetime,
                        answers: dict) -> bool:
    """Record the learner's answer once; False when they had answered already (nothing written)."""
    anonymous = bool(activity["anonymous"])
    day = today()
    template = session["template"] if "template" in session else (await TrainingSession.select(
        TrainingSession.template).where(TrainingSession.id == session["id"]).first() or {}).get("template")
    async with db.write_transaction():
        await SurveyInvitation.insert(SurveyInvitation(
            enrolment=enrolment_id, activity=activity["id"], opens_at=opens_at)).on_conflict(
            target=(SurveyInvitation.enrolment, SurveyInvitation.activity), action="DO NOTHING")
        marked = await SurveyInvitation.update({
            SurveyInvitation.answered: True, SurveyInvitation.answered_on: None if anonymous else day}).where(
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
               "full_name": name_for_documents(row["full_name"], row["start_date"], row["end_date"])}
    return {"invitation": row, "activity": activity, "session": session, "enrolment_id": row["enrolment"],
            "completed_at": row["completed_at"], "first_name": row["first_name"]}
