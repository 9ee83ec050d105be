"""A session in the caller's scope, its code, and what is done to it as a whole: cancel, hide or
show, delete; its activities as learners see them; the categories page's counts."""

from __future__ import annotations

import re
from datetime import date

from piccolo.query.functions.aggregate import Count

from app import db
from app.dates import now
from app.services import convocations, trainers
from app.services.errors import DomainError
from app.services.registration import OPEN_STATUSES
from app.services.roles import CurrentUser
from app.services.scope import establishments_in_scope, row_in_scope
from app.services.text import starts_with
from app.tables.catalogue import SessionActivity, TrainingSession
from app.tables.certificates import Certificate
from app.tables.evidence import AttendanceRecord, SlotClosure
from app.tables.learning import ActivityCompletion, Attendance, DiscussionMessage, Enrolment, QuizAttempt
from app.tables.registration import RegistrationRequest

CODE_RE = re.compile(r"^[0-9]{2}[A-Z0-9]{1,8}S[0-9]{1,4}$")


async def next_code(start: date, catalogue_code: str) -> str:
    prefix = f"{start:%y}{catalogue_code}S"
    rows = await TrainingSession.select(TrainingSession.code).where(starts_with(TrainingSession.code, prefix))
    numbers = [int(r["code"][len(prefix):]) for r in rows if r["code"][len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1}"


async def session_in_scope(user: CurrentUser, session_id: int) -> dict:
    return await row_in_scope(user, TrainingSession, session_id, "Session introuvable.",
                              TrainingSession.template.title.as_alias("template_title"))



async def cancel_session(user: CurrentUser, session_id: int) -> dict:
    """« Annuler la session »: it stays, with its records, marked cancelled; every learner who was
    convoked gets the cancellation of their invitation. Cannot be undone."""
    session = await session_in_scope(user, session_id)
    async with db.transaction():
        done = await TrainingSession.update({TrainingSession.cancelled_at: now()}).where(
            (TrainingSession.id == session_id) & TrainingSession.cancelled_at.is_null()).returning(TrainingSession.id)
        if not done:
            raise DomainError("Cette session est déjà annulée.")
        await convocations.on_session_cancelled(session_id)
    return session


async def set_visible(user: CurrentUser, session_id: int, visible: bool) -> dict:
    session = await session_in_scope(user, session_id)
    await TrainingSession.update({TrainingSession.visible: visible}).where(TrainingSession.id == session_id)
    return session


async def delete_session(user: CurrentUser, session_id: int) -> dict:
    """A session goes only while nothing was recorded in it: no one enrolled now, no trace of anyone's
    training (visits, completions, quiz attempts, attendance and its records, certificates), no slot
    closed, no discussion, no registration request still open. Otherwise: cancel or hide it — records
    of training are never deleted by a click. Its trainers leave with it (their grant with their last
    session)."""
    session = await session_in_scope(user, session_id)
    enrolled = await Enrolment.count().where((Enrolment.session == session_id) & (Enrolment.active == True))  # noqa: E712
    if enrolled:
        raise DomainError(
            f"Cette session a {enrolled} inscription(s) active(s) : désinscrivez les participants "
            "(ou retirez la synchronisation de cohorte) avant de la supprimer, ou cachez-la."
        )
    if problem := await _kept_records(session_id):
        raise DomainError(problem + (KEEP_CANCELLED if session.get("cancelled_at") else KEEP))
    open_requests = await RegistrationRequest.count().where(
        (RegistrationRequest.session == session_id)
        & RegistrationRequest.status.is_in(OPEN_STATUSES))
    if open_requests:
        raise DomainError(
            f"{open_requests} demande(s) d'inscription en ligne sont en cours pour cette session : traitez-les "
            "(ou annulez-les) avant de la supprimer."
        )
    async with db.transaction():
        await trainers.detach(session_id)
        # Former enrolments with nothing recorded (enrolled by mistake, then removed) go with it.
        await Enrolment.delete().where(Enrolment.session == session_id)
        await TrainingSession.delete().where(TrainingSession.id == session_id)
    return session


KEEP = " : elle ne peut pas être supprimée. Annulez-la (« Annuler la session ») ou cachez-la pour qu'elle n'apparaisse plus."
KEEP_CANCELLED = " : elle ne peut pas être supprimée. Elle est annulée ; cachez-la pour qu'elle n'apparaisse plus."


async def _kept_records(session_id: int) -> str | None:
    """Why the session must stay (the start of a French sentence), or None: the people whose training it records
    (a visit, a completion, a quiz attempt, attendance or its records, a certificate), its closed slots
    (signed sheets), its discussion."""
    def of_session(table):
        return table.select(table.enrolment).where(table.enrolment.session == session_id)

    people = await Enrolment.count().where(
        (Enrolment.session == session_id)
        & (Enrolment.last_visit.is_not_null() | Enrolment.id.is_in(of_session(ActivityCompletion))
           | Enrolment.id.is_in(of_session(QuizAttempt)) | Enrolment.id.is_in(of_session(Attendance))
           | Enrolment.id.is_in(of_session(AttendanceRecord)) | Enrolment.id.is_in(of_session(Certificate)))
    )
    if people:
        return (f"Cette session garde les traces de formation de {people} personne(s) (visites, activités achevées, "
                "présences, attestations) ; elles sont conservées")
    closed = await SlotClosure.count().where(SlotClosure.slot.session == session_id)
    if closed:
        return f"Cette session a {closed} créneau(x) dont l'émargement est clôturé (feuilles signées)"
    messages = await DiscussionMessage.count().where(DiscussionMessage.session == session_id)
    if messages:
        return f"La discussion de cette session compte {messages} message(s)"
    return None


async def session_activities(session_id: int) -> list[dict]:
    """The activities learners see, in order (retired ones left out)."""
    return await SessionActivity.select().where(
        (SessionActivity.session == session_id) & SessionActivity.retired_at.is_null()).order_by(
        SessionActivity.position).order_by(SessionActivity.id)


async def category_counts(user: CurrentUser) -> list[dict]:
    """The seed's "Catégories de contenus": each delegation and establishment in scope with its
    session count (one grouped query)."""
    establishments = await establishments_in_scope(user)
    if not establishments:
        return []
    rows = await TrainingSession.select(TrainingSession.establishment, Count(TrainingSession.id, alias="n")).where(
        TrainingSession.establishment.is_in([e["id"] for e in establishments])
    ).group_by(TrainingSession.establishment)
    counts = {r["establishment"]: r["n"] for r in rows}
    categories, seen = [], {}
    for e in establishments:
        if e["delegation_id"] not in seen:
            seen[e["delegation_id"]] = {"name": e["delegation_name"], "code": e["delegation_code"], "count": 0,
                                        "level": 0, "id": None}
            categories.append(seen[e["delegation_id"]])
        seen[e["delegation_id"]]["count"] += counts.get(e["id"], 0)
        categories.append({"name": e["name"], "code": e["code"], "count": counts.get(e["id"], 0), "level": 1,
                           "id": e["id"]})
    return categories
