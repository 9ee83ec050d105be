"""A session's own activities (SessionActivity), edited by the session's managers: add, edit, reorder,
retire or restore, delete when nothing was recorded on it.

The editing itself is the template editor's (app/services/activities.py). What is particular to a
session is that learners have records on its activities:
- an activity with completions or quiz attempts is never deleted: it is retired (hidden from the
  learners, no longer counted as required, its records kept) and can be restored;
- a questionnaire with invitations or answers, or an entry/exit assessment quiz with attempts, keeps
  its structure: answers are stored by question (and choice) index, so only wordings may change
  (``check_structure_kept``); to change more, retire it and make another;
- any change that can move the required set (add, edit, retire, restore, delete) recomputes the
  summary of every enrolment of the session in the same transaction (`refresh_and_issue`: summaries, and the certificate of anyone it completes; one
  statement), so percent and completed_at stay true for everyone.
Callers have checked the session is in the manager's scope.
"""

from __future__ import annotations

from app import db
from app.dates import now
from app.services import activities
from app.services.activities import ActivityForm
from app.services.assessments import session_objectives
from app.services.errors import ValidationFailed
from app.services.certificates import seal
from app.services.learner import load_quiz, parse_quiz_text
from app.services.learning import refresh_and_issue
from app.services.surveys.questions import (QUIZ_STRUCTURE_KEPT, STRUCTURE_KEPT, load_questions, parse_survey_text,
                                            structure_kept)
from app.tables.catalogue import SessionActivity
from app.tables.learning import ActivityCompletion, Enrolment, QuizAttempt
from app.tables.quality import SurveyInvitation, SurveyResponse

SETTINGS_KEPT = ("Ce questionnaire a déjà des réponses : son envoi et l'anonymat de ses réponses ne peuvent plus "
                 "changer. Retirez-le et créez-en un nouveau pour les modifier.")
HAS_RECORDS = ("Cette activité a déjà des achèvements, des tentatives ou des réponses enregistrés : elle ne peut pas être "
               "supprimée. Retirez-la : elle sera cachée aux apprenants et ne comptera plus pour l'achèvement.")


async def get_activity(session_id: int, activity_id: int) -> dict:
    return await activities.get_activity(SessionActivity, SessionActivity.session, session_id, activity_id)


async def editor_activities(session_id: int) -> list[dict]:
    """Every activity of the session, retired ones too, with how many learners completed it and
    whether anything is recorded on it (which decides « Supprimer » or only « Retirer »). One query."""
    return await SessionActivity.raw(
        "SELECT a.id, a.position, a.kind, a.title, a.required, a.completion, a.retired_at, a.file, "
        "f.name AS file_name, "
        "(SELECT COUNT(*) FROM activity_completion c WHERE c.activity = a.id) AS completions, "
        "(EXISTS (SELECT 1 FROM quiz_attempt q WHERE q.activity = a.id) "
        "OR EXISTS (SELECT 1 FROM survey_invitation v WHERE v.activity = a.id)) AS attempted "
        "FROM session_activity a LEFT JOIN stored_file f ON f.id = a.file "
        "WHERE a.session = {} ORDER BY a.position, a.id", session_id)


async def check_structure_kept(current: dict, form: ActivityForm) -> None:
    """Refuse (ValidationFailed) an edit that would change what stored answers mean: a questionnaire
    with invitations or answers, or a quiz measuring entry/exit (``assessment``) with attempts, may
    have its wordings corrected, not its number or order of questions, their types, choices, right
    answers or objective tags — nor its kind, sending, anonymity or assessment. A template's activity
    is never checked: sessions answer their own copies."""
    kind, activity_id = current["kind"], current["id"]
    if kind == "survey":
        used = await SurveyInvitation.exists().where(SurveyInvitation.activity == activity_id) or \
            await SurveyResponse.exists().where(SurveyResponse.activity == activity_id)
    elif kind == "quiz" and current["assessment"]:
        used = await QuizAttempt.exists().where(QuizAttempt.activity == activity_id)
    else:
        return
    if not used:
        return
    key, message = ("survey", STRUCTURE_KEPT) if kind == "survey" else ("quiz", QUIZ_STRUCTURE_KEPT)
    if form.kind != kind:
        raise ValidationFailed({"kind": message})
    # The text read first, as the editor reads it (a quiz's objective tags against the session's
    # objectives): a text with an error gets that error from the editor (which saves nothing), not the
    # refusal of a changed structure.
    try:
        if kind == "survey":
            kept = structure_kept(kind, load_questions(current["quiz"]), parse_survey_text(form.survey_text))
        else:
            objectives = await session_objectives(current["session"])
            kept = structure_kept(kind, load_quiz(current["quiz"]), parse_quiz_text(form.quiz_text, len(objectives)))
    except ValidationFailed as invalid:
        if set(invalid.errors) & {"survey", "quiz"}:
            return
        raise
    if kind == "survey" and (form.survey_phase != current["survey_phase"]
                             or bool(form.anonymous) != bool(current["anonymous"])):
        raise ValidationFailed({"survey_phase": SETTINGS_KEPT})
    if kind == "quiz" and form.assessment != current["assessment"]:
        raise ValidationFailed({"assessment": message})
    if not kept:
        raise ValidationFailed({key: message})


async def save_activity(session_id: int, form: ActivityForm, activity_id: int | None = None,
                        upload: tuple[str, bytes] | None = None, user_id: int | None = None) -> int:
    current = await get_activity(session_id, activity_id) if activity_id else None
    async with db.transaction():
        if current is not None:
            await check_structure_kept(current, form)
        saved = await activities.save_activity(SessionActivity, SessionActivity.session, session_id, form, current,
                                               upload, user_id)
        issued = await refresh_and_issue(session_id=session_id)
    await seal(issued)
    return saved


async def move_activity(session_id: int, activity_id: int, direction: str) -> bool:
    return await activities.move_activity(SessionActivity, SessionActivity.session, session_id, activity_id,
                                          direction)


async def set_retired(session_id: int, activity_id: int, retired: bool) -> bool:
    """Retire (or restore) an activity; False if it already was. Learners who would « Reprendre » on
    it resume at the session page instead."""
    await get_activity(session_id, activity_id)
    async with db.transaction():
        rows = await SessionActivity.update({SessionActivity.retired_at: now() if retired else None}).where(
            (SessionActivity.id == activity_id)
            & (SessionActivity.retired_at.is_null() if retired else SessionActivity.retired_at.is_not_null())
        ).returning(SessionActivity.id)
        if not rows:
            return False
        if retired:
            await Enrolment.update({Enrolment.last_activity: None}).where(
                (Enrolment.session == session_id) & (Enrolment.last_activity == activity_id))
        issued = await refresh_and_issue(session_id=session_id)
    await seal(issued)
    return True


async def delete_activity(session_id: int, activity_id: int) -> None:
    """Delete an activity nobody has a record on; otherwise refuse (retire it instead)."""
    await get_activity(session_id, activity_id)
    async with db.transaction():
        if await ActivityCompletion.exists().where(ActivityCompletion.activity == activity_id) or \
                await QuizAttempt.exists().where(QuizAttempt.activity == activity_id) or \
                await SurveyInvitation.exists().where(SurveyInvitation.activity == activity_id):
            raise ValidationFailed({"activity": HAS_RECORDS})
        await Enrolment.update({Enrolment.last_activity: None}).where(
            (Enrolment.session == session_id) & (Enrolment.last_activity == activity_id))
        await SessionActivity.delete().where(SessionActivity.id == activity_id)
        issued = await refresh_and_issue(session_id=session_id)
    await seal(issued)
