"""Time slots and place of a session (issue 12): sessions had days only.

A slot is one part of a day (a half-day, the unit French funders count: 09:00-12:30). Managers type
them one per line on the settings page, e.g. ``02/06/2026 09:00-12:30`` (or ``2026-06-02 9h00-12h30``);
every line is checked (a date within the session, a start before the end, no overlap) with a French
message naming the line, and nothing typed is lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time

from app import db
from app.dates import date_fr
from app.tables.catalogue import SessionSlot
from app.tables.evidence import AttendanceRecord, SlotClosure
from app.tables.learning import Attendance

MAX_SLOTS = 200
_LINE = re.compile(
    r"^\s*(?:(\d{1,2})/(\d{1,2})/(\d{4})|(\d{4})-(\d{2})-(\d{2}))\s+"
    r"(\d{1,2})[:hH](\d{2})?\s*[-–à]\s*(\d{1,2})[:hH](\d{2})?\s*$"
)


def slot_minutes(starts: time, ends: time) -> int:
    """The minutes of a slot from ``starts`` to ``ends`` (the same day): what a slot counts in hours."""
    return (ends.hour * 60 + ends.minute) - (starts.hour * 60 + starts.minute)


@dataclass(frozen=True, order=True)
class Slot:
    day: date
    starts: time
    ends: time

    @property
    def minutes(self) -> int:
        return slot_minutes(self.starts, self.ends)

    def line(self) -> str:
        return f"{self.day:%d/%m/%Y} {self.starts:%H:%M}-{self.ends:%H:%M}"


def parse(text: str, start: date | None, end: date | None) -> tuple[list[Slot], str | None]:
    """The slots typed (one per line), sorted, or a French message about the first wrong line."""
    slots: list[Slot] = []
    lines = [(n, line) for n, line in enumerate((text or "").splitlines(), start=1) if line.strip()]
    if len(lines) > MAX_SLOTS:
        return [], f"Au plus {MAX_SLOTS} créneaux par session."
    for number, line in lines:
        match = _LINE.match(line)
        if not match:
            return [], (f"Ligne {number} : « {line.strip()} » n'est pas un créneau. "
                        "Écrivez la date puis les heures, ex. 02/06/2026 09:00-12:30.")
        g = match.groups()
        try:
            day = date(int(g[2]), int(g[1]), int(g[0])) if g[0] else date(int(g[3]), int(g[4]), int(g[5]))
            starts = time(int(g[6]), int(g[7] or 0))
            ends = time(int(g[8]), int(g[9] or 0))
        except ValueError:
            return [], f"Ligne {number} : date ou heure impossible (« {line.strip()} »)."
        if starts >= ends:
            return [], f"Ligne {number} : l'heure de fin doit être après l'heure de début."
        if start and end and not start <= day <= end:
            return [], (f"Ligne {number} : le {day:%d/%m/%Y} est en dehors de la session "
                        f"(du {start:%d/%m/%Y} au {end:%d/%m/%Y}).")
        slots.append(Slot(day, starts, ends))
    slots.sort()
    for before, after in zip(slots, slots[1:]):
        if before.day == after.day and after.starts < before.ends:
            return [], f"Les créneaux du {before.day:%d/%m/%Y} se chevauchent ({before.line()} et {after.line()})."
    return slots, None


def as_text(slots: list[Slot]) -> str:
    return "\n".join(s.line() for s in slots)


def _from_row(row: dict) -> Slot:
    return Slot(row["day"], row["starts"], row["ends"])


# Read on every page of the registration wizard (its header's dates): its SQL built once.
_slots_of = db.reused(lambda session_id: SessionSlot.select(SessionSlot.day, SessionSlot.starts, SessionSlot.ends).where(
    SessionSlot.session == session_id).order_by(SessionSlot.day).order_by(SessionSlot.starts))


async def for_session(session_id: int) -> list[Slot]:
    return [_from_row(r) for r in await _slots_of(session_id)]


async def removed_with_attendance(session_id: int, slots: list[Slot]) -> str | None:
    """A French message when the slots typed drop or change one that holds evidence — attendance
    recorded, attendance records (signatures, marks) or its closing (issue 22) — None otherwise.
    A slot is known by its day and start; such a slot keeps its end too (what was signed stays
    what happened)."""
    typed = {(s.day, s.starts): s for s in slots}
    evidence = (SessionSlot.id.is_in(Attendance.select(Attendance.slot).where(Attendance.enrolment.session == session_id))
                | SessionSlot.id.is_in(AttendanceRecord.select(AttendanceRecord.slot).where(
                    AttendanceRecord.slot.session == session_id))
                | SessionSlot.id.is_in(SlotClosure.select(SlotClosure.slot).where(SlotClosure.slot.session == session_id)))
    recorded = await SessionSlot.select(SessionSlot.day, SessionSlot.starts, SessionSlot.ends).where(
        (SessionSlot.session == session_id) & evidence)
    kept = sorted(_from_row(r) for r in recorded)
    dropped = [s for s in kept if (s.day, s.starts) not in typed]
    if dropped:
        return (f"Les présences du créneau {dropped[0].line()} sont enregistrées : ce créneau ne peut pas être "
                "retiré.")
    changed = [s for s in kept if typed[(s.day, s.starts)].ends != s.ends]
    if changed:
        return (f"Les présences du créneau {changed[0].line()} sont enregistrées : ses horaires ne peuvent plus "
                "changer (ce qui a été émargé reste ce qui a eu lieu).")
    return None


async def replace(session_id: int, slots: list[Slot]) -> None:
    """The session's slots become these: the ones kept (same day and start) keep their id, and so
    the attendance recorded for them; the others are removed, the new ones added."""
    async with db.transaction():
        existing = await SessionSlot.select(SessionSlot.id, SessionSlot.day, SessionSlot.starts, SessionSlot.ends).where(
            SessionSlot.session == session_id)
        wanted = {(s.day, s.starts): s for s in slots}
        gone = [r["id"] for r in existing if (r["day"], r["starts"]) not in wanted]
        if gone:
            await SessionSlot.delete().where(SessionSlot.id.is_in(gone))
        if slots:
            await SessionSlot.insert(*[SessionSlot(session=session_id, day=s.day, starts=s.starts, ends=s.ends)
                                       for s in slots]).on_conflict(
                target=(SessionSlot.session, SessionSlot.day, SessionSlot.starts), action="DO UPDATE",
                values=[SessionSlot.ends])


def by_day(slots: list[Slot]) -> list[tuple[str, str]]:
    """[("mardi 2 juin 2026", "09:00–12:30, 13:30–17:00"), …] for pages and documents."""
    days: dict[date, list[str]] = {}
    for s in slots:
        days.setdefault(s.day, []).append(f"{s.starts:%H:%M}–{s.ends:%H:%M}")
    return [(date_fr(day), ", ".join(parts)) for day, parts in days.items()]


def hours_text(minutes: int) -> str:
    """"14 h", "10 h 30": a number of minutes as hours of training."""
    hours, rest = divmod(int(minutes or 0), 60)
    return f"{hours} h {rest:02d}" if rest else f"{hours} h"


def summary(slots: list[Slot]) -> str:
    """"4 demi-journées, 14 h" — the slots of a session counted as funders do."""
    if not slots:
        return ""
    duration = hours_text(sum(s.minutes for s in slots))
    return f"{len(slots)} demi-journée{'s' if len(slots) > 1 else ''}, {duration}"
