"""The session a requester registers to: open or not, its dates from its slots (wizard header,
BI)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from app import db
from app.dates import date_fr, datetime_fr, today
from app.services import seats, slots
from app.services.registration.common import RegistrationClosed
from app.settings import get_settings
from app.tables.catalogue import TrainingSession


def session_dates(session: dict, slot_list: list | None = None) -> str:
    """"Du vendredi 2 octobre 2026, 11:00 au vendredi 2 octobre 2026, 12:15" from the session's
    time slots; the days only when it has none (no invented hours)."""
    if not slot_list:
        return f"Du {date_fr(session['start_date'])} au {date_fr(session['end_date'])}"
    tz = ZoneInfo(get_settings().timezone)
    start = datetime.combine(slot_list[0].day, slot_list[0].starts, tz)
    end = datetime.combine(slot_list[-1].day, slot_list[-1].ends, tz)
    return f"Du {datetime_fr(start)} au {datetime_fr(end)}"


async def _with_slots(session: dict) -> dict:
    """The session's dates from its slots, the slots day by day, its place (wizard header)."""
    slot_list = await slots.for_session(session["id"])
    session["dates"] = session_dates(session, slot_list)
    session["slot_days"] = slots.by_day(slot_list)
    return session


def _session_where(condition):
    return TrainingSession.select(
        TrainingSession.all_columns(), TrainingSession.template.title.as_alias("title"),
    ).where(condition).first()


# Read on every page of the wizard: their SQL built once (db.reused).
_session_by_code = db.reused(lambda code: _session_where(TrainingSession.code == code))
_session_by_id = db.reused(lambda session_id: _session_where(TrainingSession.id == session_id))


async def open_session(code: str) -> dict:
    """The session a requester may register to, or RegistrationClosed with the reason."""
    code = (code or "").strip().upper()
    session = await _session_by_code(code)
    if session is None or not session["visible"]:
        raise RegistrationClosed(f"Aucune session ouverte à l'inscription ne porte le code « {code} ». Vérifiez le code.")
    if session["start_date"] <= today():
        raise RegistrationClosed("Cette session a déjà commencé ou est passée : les inscriptions sont closes.")
    session["title"] = session["title"] or session["full_name"]
    await _with_slots(session)
    session["taken"] = await seats.seats_taken(session["id"])
    session["full"] = bool(session["seats"]) and session["taken"] >= session["seats"]
    return session


async def open_session_by_id(session_id: int) -> dict:
    """The session of a draft, for its title and dates on every step."""
    session = await _session_by_id(session_id)
    if session is None:
        raise RegistrationClosed("Cette session n'existe plus.")
    session["title"] = session["title"] or session["full_name"]
    return await _with_slots(session)
