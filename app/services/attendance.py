"""Attendance (feuilles d'émargement, issue 12 and SPEC X2): the printable sheet of each slot, and
the attendance recorded per learner and slot (present / absent / excused).

Hours attended are the minutes of the slots recorded « présent »: an excused absence (« excusé »)
is recorded as such on the learner's record but counts no hours, as funders count presence only.
They live on the enrolment's summary (`attended_minutes`), recomputed with the rest of it
(`learning.refresh_and_issue`) in the transaction that saves the grid; when the session sets
« Présence minimale (%) », crossing it may complete the enrolment and issue its certificate by the
same path as the last activity done.

Issue 22: every change of attendance — a learner's signature, a trainer's mark, the closing's absences,
the grid, a correction after a closing — goes through ``append`` / ``write`` below: AttendanceRecord
rows (append-only evidence) and the Attendance projection pointing at them, in one transaction,
set-based. The grid is the managers' view and correction tool over those records: before a slot's
closing a change is a « manager » record (clearing a cell a « cleared » one), after it a « correction »
that needs a reason.

The grid is one form: a select per learner and slot. A url-encoded form holds at most
FORM_MAX_FIELDS fields (app/http/security.py), so a big session's grid comes in pages of
``FORM_CELLS // slots`` learners; each page is saved by one statement whatever its size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from typing import NamedTuple

from app import db
from app.dates import date_fr, now
from app.numbers import number_fr, to_int
from app.pdf.render import layout, render_html, write_documents
from app.services import audit, trainers
from app.services.certificates import seal
from app.services.errors import ValidationFailed
from app.services.learning import refresh_and_issue
from app.services.signing.common import STATUS_LABELS
from app.services.slots import slot_minutes
from app.tables.catalogue import SessionSlot, TrainingSession
from app.tables.learning import Attendance, Enrolment

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


async def session_slots(session_id: int) -> list[dict]:
    """The session's slots in order, each with its id, minutes, French date and signature cells."""
    rows = await SessionSlot.select(SessionSlot.id, SessionSlot.day, SessionSlot.starts, SessionSlot.ends).where(
        SessionSlot.session == session_id).order_by(SessionSlot.day).order_by(SessionSlot.starts)
    for r in rows:
        r["minutes"] = slot_minutes(r["starts"], r["ends"])
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


REASON_REQUIRED = ("Ce créneau est clôturé : indiquez le motif de la correction (champ « Motif »). "
                   "Rien n'a été enregistré.")
EXCUSE_REASON_REQUIRED = ("Une absence excusée se note avec son motif : indiquez-le (champ « Motif »). "
                          "Rien n'a été enregistré.")
# One limit for every reason a record keeps (an excuse, a correction), whoever types it.
REASON_MAX = 500
REASON_TOO_LONG = f"Le motif ne peut pas dépasser {REASON_MAX} caractères."
NO_CLEARING_CLOSED = ("Un créneau clôturé ne peut pas être vidé : choisissez Présent, Absent ou Excusé "
                      "(avec le motif de la correction). Rien n'a été enregistré.")


async def save(recorded_by: int | None, session_id: int, cells: dict[tuple[int, int], str], redis=None,
               reason: str = "") -> Saved:
    """Record a grid (or a page of it): each cell present / absent / excused, or "" to clear it.
    Learners must be actively enrolled in this session and slots be this session's (else nothing is
    saved, with a French message). Only the cells that change make a record: method « manager »
    before the slot's closing (clearing = « cleared »), « correction » with ``reason`` after it (a
    closed slot's cell cannot be cleared). A cell changed to « Excusé » needs ``reason`` too (the
    motif of the absence, as the trainer's page asks it; the closing's snapshot prints it). Set-based (``append``); summaries and certificates in the
    same transaction, the certificates' PDFs after commit."""
    if not cells:
        raise ValidationFailed({"grid": "Aucune présence à enregistrer : la session n'a pas de créneau ou pas d'inscrit."})
    bad = sorted({v for v in cells.values() if v and v not in STATUS_LABELS})
    if bad:
        raise ValidationFailed({"grid": f"État de présence inconnu : « {bad[0][:20]} ». Choisissez Présent, Absent ou Excusé."})
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX:
        raise ValidationFailed({"reason": REASON_TOO_LONG})
    enrolment_ids = sorted({e for e, _ in cells})
    slot_ids = sorted({s for _, s in cells})
    known_enrolments = {r["id"] for r in await Enrolment.select(Enrolment.id).where(
        (Enrolment.session == session_id) & (Enrolment.active == True) & db.among(Enrolment.id, enrolment_ids))}  # noqa: E712
    known_slots = {r["id"] for r in await SessionSlot.select(SessionSlot.id).where(
        (SessionSlot.session == session_id) & SessionSlot.id.is_in(slot_ids))}
    if set(enrolment_ids) - known_enrolments or set(slot_ids) - known_slots:
        raise ValidationFailed({"grid": "La liste des inscrits ou des créneaux a changé entre-temps : rien n'a été "
                                        "enregistré. Rechargez la page et saisissez à nouveau."})
    async with db.write_transaction():
        closed = await lock_slots(slot_ids)
        current = await _current(enrolment_ids, slot_ids)
        changes = [(e, s, v) for (e, s), v in sorted(cells.items()) if v != current.get((e, s), "")]
        corrections = [c for c in changes if c[1] in closed]
        if any(not v for _, _, v in corrections):
            raise ValidationFailed({"grid": NO_CLEARING_CLOSED})
        if corrections and not reason:
            raise ValidationFailed({"reason": REASON_REQUIRED})
        if not reason and any(v == "excused" for _, _, v in changes):
            raise ValidationFailed({"reason": EXCUSE_REASON_REQUIRED})
        await append([Mark(e, s, v or CLEARED, reason=reason if v == "excused" else "") for e, s, v in changes
                      if s not in closed], "manager", recorded_by)
        await append([Mark(e, s, v, reason=reason) for e, s, v in corrections], "correction", recorded_by)
        if corrections:
            session = await TrainingSession.select(TrainingSession.code).where(TrainingSession.id == session_id).first()
            await audit.record("attendance.corrected", "session", session_id, session["code"] if session else "", {
                "cells": len(corrections), "slots": sorted({s for _, s, _ in corrections}),
                "enrolments": sorted({e for e, _, _ in corrections}), "reason": reason})
        issued, completed = await settle(sorted({e for e, _, _ in changes})) if changes else ([], 0)
    if issued:
        await seal(issued, redis)
    return Saved(len(changes), completed)


async def _current(enrolment_ids: list[int], slot_ids: list[int]) -> dict[tuple[int, int], str]:
    rows = await Attendance.select(Attendance.enrolment, Attendance.slot, Attendance.status).where(
        db.among(Attendance.enrolment, enrolment_ids) & Attendance.slot.is_in(slot_ids))
    return {(r["enrolment"], r["slot"]): r["status"] for r in rows}


# -- the one writer of attendance (issue 22) -------------------------------------------------------
# Every change — a learner's signature, a trainer's mark, the closing's absences, the grid, a
# correction — appends AttendanceRecord rows and sets the Attendance projection (pointing at its
# record) in the same transaction, set-based: one statement on PostgreSQL whatever the number.
CLEARED = "cleared"


class Mark(NamedTuple):
    enrolment: int
    slot: int
    status: str  # present / absent / excused, or "cleared" (the projection row removed)
    signature: str = ""  # PNG base64, no prefix
    reason: str = ""


class AlreadyRecorded(Exception):
    """``append(only_unrecorded=True)``: one of the cells had a state already (a second signature,
    a double click, two phones at once). Raised inside the transaction: nothing is kept."""


async def lock_slots(slot_ids: list[int], exclusive: bool = False) -> set[int]:
    """Inside a transaction: lock the slots' rows (shared: signatures and marks run side by side;
    ``exclusive``: the closing waits for them and holds the next ones back) and return those already
    closed. The closures are read by a second statement, once the lock is held: under READ COMMITTED
    a statement that waited for a closing's lock reads the rows it joins as they were when it began
    (before that closing), while a new statement sees the closing committed. On SQLite the caller's
    write_transaction already runs writers one after the other."""
    if not slot_ids:
        return set()
    ids = ", ".join("{}" for _ in slot_ids)
    lock = "" if db.is_sqlite() else (" FOR UPDATE" if exclusive else " FOR SHARE")
    await SessionSlot.raw(f"SELECT id FROM session_slot WHERE id IN ({ids}) ORDER BY id" + lock, *slot_ids)
    rows = await SessionSlot.raw(f"SELECT slot FROM slot_closure WHERE slot IN ({ids})", *slot_ids)
    return {r["slot"] for r in rows}


_APPEND_PG = (
    "WITH input AS (SELECT * FROM unnest({}::int[], {}::int[], {}::text[], {}::text[], {}::text[]) AS t(e, s, st, sig, why)), "
    "rec AS (INSERT INTO attendance_record (enrolment, slot, status, method, recorded_at, recorded_by, signature, "
    "client_hash, reason) SELECT e, s, st, {}::text, {}::timestamptz, {}::int, sig, {}::text, why FROM input "
    "RETURNING id, enrolment, slot, status, recorded_at), "
    "kept AS (INSERT INTO attendance (enrolment, slot, status, recorded_by, recorded_at, record) "
    "SELECT enrolment, slot, status, {}::int, recorded_at, id FROM rec WHERE status <> 'cleared' "
    "ON CONFLICT (enrolment, slot) DO {} RETURNING id), "
    "gone AS (DELETE FROM attendance a USING rec WHERE rec.status = 'cleared' AND a.enrolment = rec.enrolment "
    "AND a.slot = rec.slot RETURNING a.id) "
    "SELECT rec.*, (SELECT COUNT(*) FROM kept) AS kept FROM rec"
)
_UPSERT = ("UPDATE SET status = excluded.status, recorded_by = excluded.recorded_by, "
           "recorded_at = excluded.recorded_at, record = excluded.record")


async def append(marks: list[Mark], method: str, recorded_by: int | None, client_hash: str = "",
                 only_unrecorded: bool = False) -> list[dict]:
    """Inside the caller's transaction: one record per mark (at most one per enrolment and slot) and
    the projection set from it (« cleared » removes it). ``only_unrecorded``: a cell that has a
    state already raises AlreadyRecorded (the transaction is then rolled back: nothing recorded
    twice). Returns the records made ({id, enrolment, slot, status, recorded_at})."""
    if not marks:
        return []
    assert db.in_transaction(), "attendance.append runs in the caller's transaction"
    at = now()
    if not db.is_sqlite():
        rows = await Attendance.raw(
            _APPEND_PG.replace("DO {}", "DO NOTHING" if only_unrecorded else "DO " + _UPSERT),
            [m.enrolment for m in marks], [m.slot for m in marks], [m.status for m in marks],
            [m.signature for m in marks], [m.reason for m in marks], method, at, recorded_by, client_hash, recorded_by)
        kept = rows[0]["kept"] if rows else 0
    else:
        rows, kept = await _append_sqlite(marks, method, recorded_by, client_hash, only_unrecorded, at)
    if only_unrecorded and kept < sum(1 for m in marks if m.status != CLEARED):
        raise AlreadyRecorded()
    return [{k: r[k] for k in ("id", "enrolment", "slot", "status", "recorded_at")} for r in rows]


async def _append_sqlite(marks, method, recorded_by, client_hash, only_unrecorded, at) -> tuple[list[dict], int]:
    rows, kept = [], 0
    for start in range(0, len(marks), 100):  # bound the parameters of one statement
        chunk = marks[start:start + 100]
        made = await Attendance.raw(
            "INSERT INTO attendance_record (enrolment, slot, status, method, recorded_at, recorded_by, signature, "
            "client_hash, reason) VALUES " + ", ".join("({}, {}, {}, {}, {}, {}, {}, {}, {})" for _ in chunk)
            + " RETURNING id, enrolment, slot, status, recorded_at",
            *[a for m in chunk for a in (m.enrolment, m.slot, m.status, method, at, recorded_by, m.signature,
                                         client_hash, m.reason)])
        rows += made
        setting = [r for r in made if r["status"] != CLEARED]
        if setting:
            done = await Attendance.raw(
                "INSERT INTO attendance (enrolment, slot, status, recorded_by, recorded_at, record) VALUES "
                + ", ".join("({}, {}, {}, {}, {}, {})" for _ in setting) + " ON CONFLICT (enrolment, slot) DO "
                + ("NOTHING" if only_unrecorded else _UPSERT) + " RETURNING id",
                *[a for r in setting for a in (r["enrolment"], r["slot"], r["status"], recorded_by, at, r["id"])])
            kept += len(done)
        for r in made:
            if r["status"] == CLEARED:
                await Attendance.raw("DELETE FROM attendance WHERE enrolment = {} AND slot = {}", r["enrolment"], r["slot"])
    return rows, kept


async def cell_states(marks: list[Mark]) -> dict[tuple[int, int], dict]:
    """{(enrolment, slot): {status, method, recorded_at}} of the cells of ``marks`` that have a state
    (the projection and the record it points at). One query."""
    pairs = sorted({(m.enrolment, m.slot) for m in marks})
    rows = await Attendance.raw(
        "SELECT a.enrolment, a.slot, a.status, a.recorded_at, r.method FROM attendance a "
        "LEFT JOIN attendance_record r ON r.id = a.record WHERE "
        + " OR ".join("(a.enrolment = {} AND a.slot = {})" for _ in pairs), *[v for p in pairs for v in p])
    return {(r["enrolment"], r["slot"]): r for r in rows}


async def settle(enrolment_ids: list[int]) -> tuple[list[int], int]:
    """Inside the change's transaction: the enrolments' hours, completion and certificates again
    (``refresh_and_issue``). Returns (the enrolments that got a certificate — to seal after commit —,
    how many became complete)."""
    if not enrolment_ids:
        return [], 0
    done = (Enrolment.select(Enrolment.id).where(
        db.among(Enrolment.id, enrolment_ids) & Enrolment.completed_at.is_not_null()))
    before = {r["id"] for r in await done}
    issued = await refresh_and_issue(enrolment_ids)
    after = {r["id"] for r in await Enrolment.select(Enrolment.id).where(
        db.among(Enrolment.id, enrolment_ids) & Enrolment.completed_at.is_not_null())}
    return issued, len(after - before)


async def write(marks: list[Mark], method: str, recorded_by: int | None, redis=None, client_hash: str = "",
                only_unrecorded: bool = False, slot_check=None, cell_check=None) -> list[dict]:
    """A change of its own transaction: the slots locked (``slot_check(closed_slot_ids)`` may refuse
    it, e.g. a closed slot), ``append``, ``settle``; the certificates sealed after commit. Returns
    the records made. A learner's signature (``only_unrecorded``) or a trainer's mark (``cell_check``)
    also holds its cells' locks, so that two of them on one cell run one after the other, and
    ``cell_check({(enrolment, slot): state})`` judges the state as it is then (it may refuse it)."""
    async with db.write_transaction():
        closed = await lock_slots(sorted({m.slot for m in marks}))
        if slot_check is not None:
            slot_check(closed)
        if only_unrecorded or cell_check is not None:
            for enrolment, slot in sorted({(m.enrolment, m.slot) for m in marks}):
                await db.lock_name(f"attendance:{enrolment}:{slot}")
        if cell_check is not None:
            cell_check(await cell_states(marks))
        records = await append(marks, method, recorded_by, client_hash, only_unrecorded)
        issued, _ = await settle(sorted({m.enrolment for m in marks}))
    if issued:
        await seal(issued, redis)
    return records


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
    by name, each slot's trainers named (issue 22). A session without slots gets one undated page to
    fill in by hand."""
    slots = await trainers.name_slot_trainers(await session_slots(session["id"]))
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
