"""Convocations: what a notice says, from the facts of the moment its mail is built."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from app.dates import date_fr
from app.services import slots
from app.services.certificates import CIVILITY_SQL
from app.services.session_names import name_for_documents
from app.services.trainers import session_trainer_names
from app.tables.convocations import ConvocationNotice, NoticeKind, NoticeStatus
from app.tables.learning import Enrolment


_FACTS = (
    "SELECT e.id, e.active, e.invitation_sequence, e.\"user\", u.first_name, u.last_name, u.email, "
    + CIVILITY_SQL + " AS civility, s.id AS session_id, s.full_name AS session_name, s.code AS session_code, "
    "s.start_date, s.end_date, s.place, s.remote_url, s.contact, s.what_to_bring, s.cancelled_at, "
    "s.establishment, es.name AS establishment_name "
    "FROM enrolment e JOIN app_user u ON u.id = e.\"user\" JOIN training_session s ON s.id = e.session "
    "JOIN establishment es ON es.id = s.establishment WHERE e.id IN ({ids})"
)


async def facts(enrolment_ids: list[int]) -> dict[int, dict]:
    """What the documents state, per enrolment (one query, plus one for the slots of their sessions)."""
    ids = sorted({int(i) for i in enrolment_ids})
    if not ids:
        return {}

    rows = await Enrolment.raw(_FACTS.format(ids=", ".join(str(i) for i in ids)))
    by_session = {sid: await slots.for_session(sid) for sid in {r["session_id"] for r in rows}}
    trainers = await session_trainer_names(list(by_session))  # issue 22: « Formateur(s) : … »
    for row in rows:
        row["slots"] = by_session[row["session_id"]]
        row["trainers"] = trainers.get(row["session_id"], [])
        # A name left with other dates than the session's is never printed (issue 20).
        row["session_name"] = name_for_documents(row["session_name"], row["start_date"], row["end_date"])
    return {r["id"]: r for r in rows}


async def _last_events(enrolment_ids: list[int]) -> dict[int, list[dict]]:
    """The events of the last invitation each enrolment was mailed (to cancel them)."""
    if not enrolment_ids:
        return {}
    rows = await ConvocationNotice.select(ConvocationNotice.enrolment, ConvocationNotice.events).where(
        ConvocationNotice.enrolment.is_in(sorted(set(enrolment_ids))) & (ConvocationNotice.status == NoticeStatus.sent)
        & (ConvocationNotice.events != "")).order_by(ConvocationNotice.id)
    return {r["enrolment"]: json.loads(r["events"]) for r in rows}  # the latest wins


async def _last_told(enrolment_ids: list[int]) -> dict[int, dict]:
    """What the last convocation, update or reminder mailed told each enrolment (issue 20)."""
    if not enrolment_ids:
        return {}
    rows = await ConvocationNotice.select(ConvocationNotice.enrolment, ConvocationNotice.told).where(
        ConvocationNotice.enrolment.is_in(sorted(set(enrolment_ids))) & (ConvocationNotice.status == NoticeStatus.sent)
        & (ConvocationNotice.told != "")).order_by(ConvocationNotice.id)
    return {r["enrolment"]: json.loads(r["told"]) for r in rows}  # the latest wins


TOLD_LABELS = {"dates": "Dates", "horaires": "Horaires", "lieu": "Lieu", "lien": "Lien de connexion"}


def told_of(f: dict) -> dict:
    """What a convocation tells the learner about when and where, as they read it."""
    return {"dates": f"du {date_fr(f['start_date'])} au {date_fr(f['end_date'])}",
            "horaires": " ; ".join(f"{day} : {hours}" for day, hours in slots.by_day(f["slots"])) or "non précisés",
            "lieu": ", ".join(place_lines(f)) or "non précisé", "lien": f["remote_url"] or "aucun"}


def changes(before: dict | None, after: dict) -> list[str]:
    """« Horaires : … → … » for each thing told that changed (none known before: nothing to compare)."""
    if not before:
        return []
    return [f"{label} : {before.get(key, '')} → {after[key]}" for key, label in TOLD_LABELS.items()
            if before.get(key) != after[key]]


def events_of(f: dict) -> list[dict]:
    """The invitation's events: one per slot (Paris wall-clock times), else one all-day event."""
    if f["slots"]:
        return [{"start": datetime.combine(s.day, s.starts).isoformat(timespec="minutes"),
                 "end": datetime.combine(s.day, s.ends).isoformat(timespec="minutes")} for s in f["slots"]]
    return [{"start": f["start_date"].isoformat(), "end": (f["end_date"] + timedelta(days=1)).isoformat()}]


def _decide(kind: str, f: dict | None, previous: list[dict] | None) -> str | None:
    """What to mail for a notice now, or None (skipped): the facts of the moment decide."""
    if f is None:
        return None
    live = f["active"] and not f["cancelled_at"]
    if kind == NoticeKind.cancellation.value:
        return kind if previous and not live else None
    return kind if live else None


def place_lines(f: dict) -> list[str]:
    lines = [line for line in (f["place"] or "").splitlines() if line.strip()]
    if f["remote_url"] and not lines:
        lines = ["À distance"]
    return lines
