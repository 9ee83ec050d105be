"""Convocations: the notices, written in the caller's transaction, set-based."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from app.dates import today
from app.services.errors import DomainError
from app.settings import get_settings
from app.tables.convocations import ConvocationNotice, NoticeKind
from app.tables.learning import Enrolment
from app.services.convocations.common import _CONVOKED, _ONCE, _OPEN, _READY, _insert, _marks


# -- notices, written in the caller's transaction -----------------------------------------------------
async def on_enrolled(enrolment_ids: list[int]) -> None:
    """Enrolments just made active (`add_sources`, the cohort sync): their convocation — once the
    session has slots and a place or link (else it comes when they are set, `on_session_changed`)."""
    ids = sorted(set(enrolment_ids))
    if ids:
        await ConvocationNotice.raw(
            _insert(NoticeKind.convocation)
            + f"WHERE e.id IN ({_marks(ids)}) AND s.auto_convocations AND {_READY} AND " + _OPEN + _ONCE,
            *ids, today())


async def on_unenrolled(enrolment_ids: list[int]) -> None:
    """Enrolments just made inactive: a cancellation for those who were convoked (their SEQUENCE
    was raised by the same UPDATE that deactivated them)."""
    ids = sorted(set(enrolment_ids))
    if ids:
        await ConvocationNotice.raw(
            _insert(NoticeKind.cancellation)
            + f"WHERE e.id IN ({_marks(ids)}) AND {_CONVOKED} AND " + _OPEN, *ids, today())


async def on_session_changed(session_id: int, notify: bool = True) -> None:
    """The session's slots, place or dates changed (in that change's transaction): every invitation
    of the session gets SEQUENCE+1; unless the manager chose not to tell them, the convoked learners
    an update, and — the session now saying when and where, convocations automatic — those never
    convoked their first convocation (an « update » notice too: mailed as a convocation, grouped)."""
    await Enrolment.update({Enrolment.invitation_sequence: Enrolment.invitation_sequence + 1}).where(
        Enrolment.session == session_id)
    if notify:
        await ConvocationNotice.raw(
            _insert(NoticeKind.update)
            + f"WHERE e.session = {{}} AND e.active AND ({_CONVOKED} OR (s.auto_convocations AND {_READY})) AND "
            + _OPEN + _ONCE, session_id, today())


async def would_notify(session_id: int, ready: bool) -> int:
    """How many learners a change of the session's dates, slots, place or link would mail (« Enregistrer
    préviendra N inscrits »): the convoked, and — ``ready``: the session will say when and where —
    those never convoked if convocations are automatic. None about a session over or cancelled."""
    rows = await Enrolment.raw(
        "SELECT COUNT(*) AS n FROM enrolment e JOIN training_session s ON s.id = e.session "
        f"WHERE e.session = {{}} AND e.active AND ({_CONVOKED}"
        + (" OR s.auto_convocations" if ready else "") + ") AND " + _OPEN, session_id, today())
    return rows[0]["n"]


async def on_session_cancelled(session_id: int) -> None:
    """The session was cancelled: every invitation is cancelled (SEQUENCE+1) — unless the session
    is over: nothing is mailed about a training that took place, nor taken out of calendars."""
    await Enrolment.update({Enrolment.invitation_sequence: Enrolment.invitation_sequence + 1}).where(
        Enrolment.session == session_id)
    await ConvocationNotice.raw(
        _insert(NoticeKind.cancellation)
        + f"WHERE e.session = {{}} AND e.active AND {_CONVOKED} AND s.end_date >= {{}}", session_id, today())


async def queue_for_session(session: dict, only_new: bool) -> int:
    """« Envoyer les convocations »: one for every active learner, or only for those never convoked.
    Idempotent: a learner who has (or is about to get) the convocation of their current SEQUENCE gets
    none again — a double submit or a second tab queues nothing. Returns how many are queued."""
    if session.get("cancelled_at"):
        raise DomainError("Cette session est annulée : aucune convocation ne peut être envoyée.")
    if session["end_date"] < today():
        raise DomainError("Cette session est terminée : aucune convocation ne peut être envoyée.")
    condition = f"AND NOT {_CONVOKED} " if only_new else ""
    rows = await ConvocationNotice.raw(
        _insert(NoticeKind.convocation)
        + f"WHERE e.session = {{}} AND e.active {condition}" + _ONCE + " RETURNING id", session["id"])
    return len(rows)


REMINDERS = ((NoticeKind.reminder_7, (7, 6)), (NoticeKind.reminder_1, (1,)))


async def queue_reminders(day: date | None = None) -> int:
    """The D-7 and D-1 reminders due today (D-7 also the day after, should the cron have missed a
    day): one row per (kind, enrolment) — its dedup_key — inserted with ON CONFLICT DO NOTHING, so
    however many workers run this, and however often, a learner gets each reminder once. Only for
    a convocation mailed before today. Returns how many were queued now."""
    day = day or today()
    midnight = datetime.combine(day, time(0), ZoneInfo(get_settings().timezone)).astimezone(timezone.utc)
    queued = 0
    for kind, offsets in REMINDERS:
        starts = [day + timedelta(days=d) for d in offsets]
        rows = await ConvocationNotice.raw(
            "INSERT INTO convocation_notice (enrolment, session, kind, status, dedup_key, sequence, events, created_at) "
            f"SELECT e.id, e.session, '{kind.value}', 'pending', '{kind.value}:' || CAST(e.id AS TEXT), "
            "e.invitation_sequence, '', CURRENT_TIMESTAMP FROM enrolment e JOIN training_session s ON s.id = e.session "
            f"WHERE e.active AND s.cancelled_at IS NULL AND s.start_date IN ({_marks(starts)}) "
            "AND EXISTS (SELECT 1 FROM convocation_notice n WHERE n.enrolment = e.id AND n.status = 'sent' "
            "AND n.kind IN ('convocation', 'update') AND n.created_at < {}) "
            "ON CONFLICT (dedup_key) DO NOTHING RETURNING id", *starts, midnight)
        queued += len(rows)
    return queued
