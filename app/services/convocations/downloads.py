"""Convocations: what a learner or a manager downloads, and the session's summary and failures."""

from __future__ import annotations


from app.services.errors import NotFound
from app.tables.convocations import ConvocationNotice, NoticeKind, NoticeStatus
from app.tables.learning import Enrolment
from app.services.convocations.common import CATEGORY, NOT_FOUND, _CONVOKED
from app.services.convocations.facts import facts


# -- downloads ---------------------------------------------------------------------------------------
async def _enrolment_facts(enrolment_id: int | None) -> dict:
    f = (await facts([enrolment_id])).get(enrolment_id) if enrolment_id else None
    if f is None:
        raise NotFound(NOT_FOUND)
    return f


async def for_learner(user_id: int, session_id: int) -> dict:
    """The learner's own: actively enrolled in a visible session that is not cancelled — before it
    starts too (that is when a convocation is needed); anything else is « introuvable »."""
    row = await Enrolment.select(Enrolment.id).where(
        (Enrolment.session == session_id) & (Enrolment.user == user_id) & (Enrolment.active == True)  # noqa: E712
        & (Enrolment.session.visible == True) & Enrolment.session.cancelled_at.is_null()  # noqa: E712
    ).first()
    return await _enrolment_facts(row["id"] if row else None)


CANCELLED = "Cette session est annulée : elle n'a plus de convocation ni d'invitation."


async def for_manager(session: dict, user_id: int) -> dict:
    """One learner's, for the session's managers (``session`` already checked in scope). Not for a
    cancelled session: its invitation (METHOD:REQUEST, same SEQUENCE as the cancellation mailed)
    forwarded to the learner would put the training back in their calendar."""
    if session.get("cancelled_at"):
        raise NotFound(CANCELLED)
    row = await Enrolment.select(Enrolment.id).where(
        (Enrolment.session == session["id"]) & (Enrolment.user == user_id) & (Enrolment.active == True)  # noqa: E712
    ).first()
    return await _enrolment_facts(row["id"] if row else None)


async def summary(session_id: int) -> dict:
    """For the send page: active learners, how many were ever convoked, the last mailing."""
    active = await Enrolment.count().where((Enrolment.session == session_id) & (Enrolment.active == True))  # noqa: E712
    rows = await Enrolment.raw(
        "SELECT COUNT(*) AS n FROM enrolment e WHERE e.session = {} AND e.active AND " + _CONVOKED, session_id)
    last = await ConvocationNotice.select(ConvocationNotice.built_at).where(
        (ConvocationNotice.session == session_id) & (ConvocationNotice.status == NoticeStatus.sent)).order_by(
        ConvocationNotice.built_at, ascending=False).first()
    waiting = await ConvocationNotice.count().where(
        (ConvocationNotice.session == session_id)
        & ConvocationNotice.status.is_in([NoticeStatus.pending, NoticeStatus.building]))
    return {"active": active, "convoked": rows[0]["n"], "never": active - rows[0]["n"],
            "last_sent": last["built_at"] if last else None, "waiting": waiting, "failed": await failures(session_id)}


# A notice that could not be built (failed), or built but whose mail the outbox gave up on; only the
# latest word to each learner still enrolled (a later notice on its way or sent replaces it).
# FAILED_FROM / FAILED_WHERE are also the home page's count (app/services/dashboard.py).
FAILED_FROM = (
    "convocation_notice n JOIN enrolment e ON e.id = n.enrolment "
    "LEFT JOIN mail m ON m.group_key = 'convocation:' || CAST(n.id AS TEXT) AND m.category = '" + CATEGORY + "' ")
FAILED_WHERE = (
    "e.active AND (n.status = 'failed' OR (n.status = 'sent' AND m.status = 'failed')) "
    "AND NOT EXISTS (SELECT 1 FROM convocation_notice later WHERE later.enrolment = n.enrolment "
    "AND later.id > n.id AND later.status IN ('pending', 'building', 'sent')) ")
# The notices that may be failing, found from the few failed rows through the status indexes, for a
# count over many sessions (the managers' home): FAILED_FROM alone joins every notice ever sent to its
# mail (100 000 sent convocations: 0.35 s on every home page). A mail's group key is "convocation:<id>".
FAILED_CANDIDATES = (
    "n.id IN (SELECT f.id FROM convocation_notice f WHERE f.status = 'failed' UNION "
    "SELECT CAST(CASE WHEN ltrim(substr(fm.group_key, 13), '0123456789') = '' THEN substr(fm.group_key, 13) END "
    "AS INTEGER) FROM mail fm WHERE fm.status = 'failed' AND fm.category = '" + CATEGORY + "' "
    "AND fm.group_key LIKE 'convocation:_%') ")
_FAILURES = (
    "SELECT n.id, n.kind, n.status, n.attempts, m.last_error AS mail_error, u.first_name, u.last_name "
    "FROM " + FAILED_FROM + "JOIN app_user u ON u.id = e.\"user\" "
    "WHERE n.session = {} AND " + FAILED_WHERE + "ORDER BY u.last_name_key, u.first_name_key, n.id"
)
KIND_LABELS = {NoticeKind.convocation.value: "Convocation", NoticeKind.update.value: "Modification",
               NoticeKind.cancellation.value: "Annulation", NoticeKind.reminder_7.value: "Rappel J-7",
               NoticeKind.reminder_1.value: "Rappel J-1"}


async def failures(session_id: int) -> list[dict]:
    """The session's convocations that could not be sent, with why in French (for its managers)."""
    rows = await ConvocationNotice.raw(_FAILURES, session_id)
    for r in rows:
        r["kind_label"] = KIND_LABELS.get(r["kind"], r["kind"])
        if r["status"] == NoticeStatus.failed.value:
            r["reason"] = f"préparation impossible ({r['attempts']} essais)"
        else:
            r["reason"] = f"courriel non remis : {r['mail_error'] or 'refusé par le serveur de messagerie'}"
    return rows
