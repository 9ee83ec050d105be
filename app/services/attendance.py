"""Attendance (feuilles d'émargement, issue 12 and SPEC X2): the printable sheet of each slot, and
the attendance recorded per learner and slot (present / absent / excused).

Hours attended are the minutes of the slots recorded « présent »: an excused absence (« excusé »)
is recorded as such on the learner's record but counts no hours, as funders count presence only.
They live on the enrolment's summary (`attended_minutes`), recomputed with the rest of it
(`learning.refresh_and_issue`) in the transaction that saves the grid; when the session sets
« Présence minimale (%) », crossing it may complete the enrolment and issue its certificate by the
same path as the last activity done.

The grid is one form: a select per learner and slot. A url-encoded form holds at most
FORM_MAX_FIELDS fields (app/http/security.py), so a big session's grid comes in pages of
``FORM_CELLS // slots`` learners; each page is saved by one statement whatever its size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time

from app import db
from app.dates import date_fr, now
from app.numbers import to_int
from app.pdf.render import layout, render_html, write_documents
from app.services.certificates import seal
from app.services.errors import ValidationFailed
from app.numbers import number_fr
from app.services.learning import refresh_and_issue
from app.tables.catalogue import SessionSlot
from app.tables.learning import Attendance, AttendanceStatus, Enrolment

STATUS_LABELS = {
    AttendanceStatus.present.value: "Présent",
    AttendanceStatus.absent.value: "Absent",
    AttendanceStatus.excused.value: "Excusé",
}
FORM_CELLS = 900  # cells of one page of the grid (below the form's field limit, with room to spare)
SHEET_TEMPLATE = "pdf/attendance_sheet.html"
NOON, AFTERNOON = time(12, 0), time(14, 0)


def hours(minutes: int | None) -> float:
    return round((minutes or 0) / 60, 2)


def hours_fr(minutes: int | None) -> str:
    """« 10,5 h » — hours attended as people read them."""
    return f"{number_fr(hours(minutes))} h"


def half_days(starts: time, ends: time) -> list[str]:
    """The signature cells of a slot: one per half-day it covers (a full day 09:00-17:00 has two)."""
    if starts <= NOON and ends >= AFTERNOON:
        return ["Matin", "Après-midi"]
    return ["Matin" if starts < NOON else "Après-midi"]


def _minutes(starts: time, ends: time) -> int:
    return (ends.hour * 60 + ends.minute) - (starts.hour * 60 + starts.minute)


async def session_slots(session_id: int) -> list[dict]:
    """The session's slots in order, each with its id, minutes, French date and signature cells."""
    rows = await SessionSlot.select(SessionSlot.id, SessionSlot.day, SessionSlot.starts, SessionSlot.ends).where(
        SessionSlot.session == session_id).order_by(SessionSlot.day).order_by(SessionSlot.starts)
    for r in rows:
        r["minutes"] = _minutes(r["starts"], r["ends"])
        r["day_fr"] = date_fr(r["day"])
        r["hours"] = f"{r['starts']:%H:%M}–{r['ends']:%H:%M}"
        r["half_days"] = half_days(r["starts"], r["ends"])
    return rows


def _learners(session_id: int):
    return Enrolment.select(
        Enrolment.id, Enrolment.attended_minutes, Enrolment.completed_at,
        Enrolment.user.first_name.as_alias("first_name"), Enrolment.user.last_name.as_alias("last_name"),
    ).where((Enrolment.session == session_id) & (Enrolment.active == True)).order_by(  # noqa: E712
        Enrolment.user.last_name_key).order_by(Enrolment.user.first_name_key).order_by(Enrolment.id)


@dataclass
class Grid:
    slots: list[dict]
    rows: list[dict]
    total: int
    page: int
    pages: int
    per_page: int
    total_minutes: int
    statuses: dict[str, str] = field(default_factory=lambda: STATUS_LABELS)

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.rows else 0

    @property
    def last_index(self) -> int:
        return (self.page - 1) * self.per_page + len(self.rows)


async def grid(session_id: int, page: int = 1) -> Grid:
    """One page of the grid: the active learners by name, each with the status recorded per slot
    ({slot id: status}) and their hours attended. Three queries."""
    slots = await session_slots(session_id)
    per_page = max(1, FORM_CELLS // max(1, len(slots)))
    total = await Enrolment.count().where((Enrolment.session == session_id) & (Enrolment.active == True))  # noqa: E712
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = await _learners(session_id).offset((page - 1) * per_page).limit(per_page)
    recorded: dict[int, dict[int, str]] = {r["id"]: {} for r in rows}
    if rows:
        for a in await Attendance.select(Attendance.enrolment, Attendance.slot, Attendance.status).where(
                db.among(Attendance.enrolment, list(recorded))):
            recorded[a["enrolment"]][a["slot"]] = a["status"]
    for r in rows:
        r["cells"] = recorded[r["id"]]
        r["hours"] = hours_fr(r["attended_minutes"])
    return Grid(slots, rows, total, page, pages, per_page, sum(s["minutes"] for s in slots))


def cells_from_form(form: dict) -> dict[tuple[int, int], str]:
    """{(enrolment, slot): status or ""} from the grid's fields ``a<enrolment>_<slot>``."""
    cells = {}
    for key, value in form.items():
        if key.startswith("a") and "_" in key:
            enrolment, _, slot = (to_int(k, low=1) for k in key[1:].partition("_"))
            if enrolment is not None and slot is not None:  # not "²", nor 5,000 digits
                cells[(enrolment, slot)] = str(value or "").strip()
    return cells


@dataclass
class Saved:
    changed: int  # cells whose status was recorded, changed or cleared
    completed: int  # enrolments that became complete (and got their certificate)


async def save(recorded_by: int | None, session_id: int, cells: dict[tuple[int, int], str], redis=None) -> Saved:
    """Record a grid (or a page of it): each cell present / absent / excused, or "" to clear it.
    Learners must be actively enrolled in this session and slots be this session's (else nothing is
    saved, with a French message). One upsert and one delete whatever the number of cells, the
    summaries and certificates in the same transaction; the certificates' PDFs after commit."""
    if not cells:
        raise ValidationFailed({"grid": "Aucune présence à enregistrer : la session n'a pas de créneau ou pas d'inscrit."})
    bad = sorted({v for v in cells.values() if v and v not in STATUS_LABELS})
    if bad:
        raise ValidationFailed({"grid": f"État de présence inconnu : « {bad[0][:20]} ». Choisissez Présent, Absent ou Excusé."})
    enrolment_ids = sorted({e for e, _ in cells})
    slot_ids = sorted({s for _, s in cells})
    known_enrolments = {r["id"] for r in await Enrolment.select(Enrolment.id).where(
        (Enrolment.session == session_id) & (Enrolment.active == True) & db.among(Enrolment.id, enrolment_ids))}  # noqa: E712
    known_slots = {r["id"] for r in await SessionSlot.select(SessionSlot.id).where(
        (SessionSlot.session == session_id) & SessionSlot.id.is_in(slot_ids))}
    if set(enrolment_ids) - known_enrolments or set(slot_ids) - known_slots:
        raise ValidationFailed({"grid": "La liste des inscrits ou des créneaux a changé entre-temps : rien n'a été "
                                        "enregistré. Rechargez la page et saisissez à nouveau."})
    to_set = [(e, s, v) for (e, s), v in sorted(cells.items()) if v]
    to_clear = [(e, s) for (e, s), v in sorted(cells.items()) if not v]
    issued: list[int] = []
    before: set[int] = set()
    after: set[int] = set()
    async with db.transaction():
        changed = await _upsert(to_set, recorded_by) + await _clear(to_clear)
        if changed:
            before = {r["id"] for r in await Enrolment.select(Enrolment.id).where(
                db.among(Enrolment.id, enrolment_ids) & Enrolment.completed_at.is_not_null())}
            issued = await refresh_and_issue(enrolment_ids)
            after = {r["id"] for r in await Enrolment.select(Enrolment.id).where(
                db.among(Enrolment.id, enrolment_ids) & Enrolment.completed_at.is_not_null())}
    if issued:
        await seal(issued, redis)
    return Saved(changed, len(after - before))


async def _upsert(rows: list[tuple[int, int, str]], recorded_by: int | None) -> int:
    """One INSERT … ON CONFLICT DO UPDATE; a cell whose status is unchanged keeps who recorded it
    and when. Returns the rows inserted or changed."""
    if not rows:
        return 0
    at = now()
    conflict = ("ON CONFLICT (enrolment, slot) DO UPDATE SET status = excluded.status, "
                "recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at "
                "WHERE attendance.status <> excluded.status RETURNING id")
    if not db.is_sqlite():
        done = await Attendance.raw(
            "INSERT INTO attendance (enrolment, slot, status, recorded_by, recorded_at) "
            "SELECT e, s, st, {}, {} FROM unnest({}::int[], {}::int[], {}::text[]) AS t(e, s, st) " + conflict,
            recorded_by, at, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
        return len(done)
    changed = 0
    for start in range(0, len(rows), 1000):  # SQLite: bound the number of parameters per statement
        chunk = rows[start:start + 1000]
        done = await Attendance.raw(
            "INSERT INTO attendance (enrolment, slot, status, recorded_by, recorded_at) VALUES "
            + ", ".join("({}, {}, {}, {}, {})" for _ in chunk) + " " + conflict,
            *[a for e, s, st in chunk for a in (e, s, st, recorded_by, at)])
        changed += len(done)
    return changed


async def _clear(cells: list[tuple[int, int]]) -> int:
    if not cells:
        return 0
    if not db.is_sqlite():
        done = await Attendance.raw(
            "DELETE FROM attendance WHERE (enrolment, slot) IN (SELECT * FROM unnest({}::int[], {}::int[])) RETURNING id",
            [c[0] for c in cells], [c[1] for c in cells])
        return len(done)
    changed = 0
    for start in range(0, len(cells), 1000):
        chunk = cells[start:start + 1000]
        done = await Attendance.raw(
            "DELETE FROM attendance WHERE (enrolment, slot) IN (VALUES " + ", ".join("({}, {})" for _ in chunk)
            + ") RETURNING id", *[a for c in chunk for a in c])
        changed += len(done)
    return changed


# -- the printable sheet -------------------------------------------------------------------------
# WeasyPrint lays out the sheet at ~6 ms a learner row and ~100 ms a page on this hardware (bench/
# attendance_sheet.py: 30 learners x 10 slots 2.4 s, 100 x 10 5 s, 500 x 10 31 s); the markup
# variants tried (no N° column, separate borders, unrepeated banner, fixed page chunks, one text block
# a column) gained nothing beyond the noise.
# Up to this many rows (learners x slots: 30 learners over 5 days of half-days, ≤ ~3 s on a shared
# 2-core server) the sheet is made in the request; beyond, by a job with its progress page.
SHEET_INLINE_MAX_ROWS = 300


async def sheet_context(session: dict) -> dict:
    """What the attendance sheet shows: the session, its slots (one page each), the active learners
    by name. A session without slots gets one undated page to fill in by hand."""
    slots = await session_slots(session["id"])
    learners = await _learners(session["id"])
    return {"session": session, "slots": slots, "learners": learners}


def sheet_rows(context: dict) -> int:
    """The learner rows the sheet lays out: what its rendering time grows with."""
    return max(1, len(context["learners"])) * max(1, len(context["slots"]))


def sheet_in_background(context: dict) -> bool:
    return sheet_rows(context) > SHEET_INLINE_MAX_ROWS


def sheet_pdf_sync(context: dict, on_slot=None) -> bytes:
    """The sheet's PDF, laid out one slot at a time (its own page numbers: « Page 2 / 24 » of that
    slot) and written as one file; ``on_slot()`` is called after each slot (the job's progress)."""
    slots = context["slots"] or [None]
    documents = []
    for index, slot in enumerate(slots):
        html = render_html(SHEET_TEMPLATE, {**context, "slots": [slot] if slot else [], "slot_offset": index,
                                            "slot_count": len(context["slots"])})
        documents.append(layout(html))
        if on_slot:
            on_slot()
    return write_documents(documents)


async def sheet_pdf(context: dict) -> bytes:
    """Off the event loop: WeasyPrint is CPU-bound."""
    import asyncio

    return await asyncio.to_thread(sheet_pdf_sync, context)


def sheet_filename(session: dict) -> str:
    return f"emargement-{session['code']}.pdf"
