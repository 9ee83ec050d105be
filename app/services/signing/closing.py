"""The trainer's closing of a slot (issue 22): countersigned (« Je certifie l'exactitude »), once.
Whoever has no record then is recorded absent (method « closing ») — an excused learner stays
excused — and the SlotClosure keeps the snapshot of the sheet (``_snapshot``: what the signed sheet
states), the SHA-256 of its canonical JSON and a verification code. From then on the records are
frozen: only a manager's correction (with a reason) changes a cell. After the commit: the signed
sheet is started (``sheet.after_close``) and the certificates of anyone completed are sealed."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timezone

from app import db
from app.dates import date_fr, now
from app.services import attendance
from app.services.certificates import seal
from app.pdf.render import TAGGED
from app.services.certificates.common import new_code
from app.services.errors import DomainError, ValidationFailed
from app.services.session_names import name_for_documents
from app.services.signing import pad, sheet, window
from app.services.signing.common import SESSION_CANCELLED, canonical_sha256, closure_of
from app.services.signing.learner import time_fr, when_fr
from app.services.slots import slot_minutes
from app.services.trainer_scope import slot_trainers
from app.tables.catalogue import SessionSlot
from app.tables.evidence import SlotClosure, SlotTrainer

log = logging.getLogger(__name__)
CERTIFY = "Cochez « Je certifie l'exactitude » pour clôturer le créneau."
ONLY_TRAINERS = "Seul un formateur de ce créneau peut le clôturer."
NOT_STARTED = "Ce créneau n'a pas encore commencé : il pourra être clôturé à partir de {starts}."


class CloseRefused(DomainError):
    status_code = 409


@dataclass
class Closed:
    id: int
    code: str
    closed_at_fr: str
    totals: dict


_ROWS = (
    "SELECT e.id AS enrolment, u.first_name, u.last_name, a.status, r.method, r.id AS record, r.recorded_at, "
    "r.reason, r.signature FROM enrolment e JOIN app_user u ON u.id = e.\"user\" "
    "LEFT JOIN attendance a ON a.enrolment = e.id AND a.slot = {} LEFT JOIN attendance_record r ON r.id = a.record "
    "WHERE e.session = {} AND e.active ORDER BY u.last_name_key, u.first_name_key, e.id"
)


async def close(user, slot: dict, session: dict, countersignature: str, certified: bool, redis=None) -> Closed:
    """Close ``slot`` as ``user`` (one of its trainers). ``countersignature`` is the raw posted data
    URL ("" without JavaScript). ValidationFailed / CloseRefused (French) leave everything as it was."""
    if session.get("cancelled_at") is not None:
        raise CloseRefused(SESSION_CANCELLED)
    errors = {}
    try:
        signature = await pad.read(countersignature)
    except pad.BadSignature as bad:
        errors["countersignature"], signature = bad.message, ""
    if not certified:
        errors["certified"] = CERTIFY
    if errors:
        raise ValidationFailed(errors)
    trainers = (await slot_trainers([slot["id"]]))[slot["id"]]
    if user.id not in {t["id"] for t in trainers}:
        raise CloseRefused(ONLY_TRAINERS)
    starts = window.starts_at(slot)
    if now() < starts:  # the signing window opens 30 min before: the closing waits for the start
        raise CloseRefused(NOT_STARTED.format(starts=when_fr(starts)))
    async with db.write_transaction():
        if await attendance.lock_slots([slot["id"]], exclusive=True):
            done = await closure_of(slot["id"])
            raise CloseRefused(f"Ce créneau est déjà clôturé (le {when_fr(done['closed_at'])} par "
                               f"{done['first_name']} {done['last_name']}) : rien n'a été modifié.")
        rows = await SessionSlot.raw(_ROWS, slot["id"], session["id"])
        missing = [r["enrolment"] for r in rows if not r["status"]]
        await attendance.append([attendance.Mark(e, slot["id"], "absent") for e in missing], "closing", user.id)
        rows = await SessionSlot.raw(_ROWS, slot["id"], session["id"])
        at = now()
        snapshot = _snapshot(session, slot, trainers, rows, user, at, signature)
        code = new_code()
        made = await SlotClosure.insert(SlotClosure(
            slot=slot["id"], closed_at=at, closed_by=user.id, countersignature=signature, certified=True,
            snapshot=json.dumps(snapshot, ensure_ascii=False), records_sha256=canonical_sha256(snapshot),
            code=code)).returning(SlotClosure.id)
        if trainers:  # the slot's trainers are written down: a trainer added to the session later is not one
            await SlotTrainer.insert(*[SlotTrainer(slot=slot["id"], user=t["id"]) for t in trainers]).on_conflict(
                target=(SlotTrainer.slot, SlotTrainer.user), action="DO NOTHING")
        issued, _ = await attendance.settle(missing)
    if issued:
        await seal(issued, redis)
    try:  # the closing is committed: the sheet's own failure must not answer it with an error
        await sheet.after_close(slot["id"], redis)
    except Exception:  # noqa: BLE001
        log.exception("the signed sheet of slot %s could not be started", slot["id"])
    return Closed(made[0]["id"], code, snapshot["closed_at_fr"], snapshot["totals"])


def _snapshot(session: dict, slot: dict, trainers: list[dict], rows: list[dict], user, at, signature: str) -> dict:
    """What the signed sheet states, kept as ``SlotClosure.snapshot`` and read by signing/sheet.py:

        {"version": 1, "session": {id, code, name, place, establishment},
         "slot": {id, day (ISO), starts "HH:MM", ends "HH:MM", day_fr, minutes},
         "trainers": [{id, name}], "closed_at" (ISO, UTC), "closed_at_fr", "closed_by": {id, name},
         "countersignature_sha256",
         "rows": [{enrolment, name, status, method, record, recorded_at, recorded_at_fr, reason,
                   signature_sha256}],  # every active learner, by last then first name
         "totals": {present, absent, excused}}

    An image's hash is the SHA-256 of its PNG bytes (pad.signature_sha256), "" without one;
    ``records_sha256`` is common.canonical_sha256 of the whole."""
    out_rows, totals = [], {"present": 0, "absent": 0, "excused": 0}
    for r in rows:
        totals[r["status"]] += 1
        out_rows.append({
            "enrolment": r["enrolment"], "name": f"{r['last_name'].upper()} {r['first_name']}".strip(),
            "status": r["status"], "method": r["method"], "record": r["record"],
            "recorded_at": _utc_iso(r["recorded_at"]), "recorded_at_fr": time_fr(r["recorded_at"]),
            "reason": r["reason"] or "", "signature_sha256": pad.signature_sha256(r["signature"])})
    return {
        "version": 1,
        "session": {"id": session["id"], "code": session["code"], "name": name_for_documents(session["full_name"], session.get("start_date"), session.get("end_date")),
                    "place": session.get("place") or "", "establishment": session.get("establishment_name") or ""},
        "slot": {"id": slot["id"], "day": slot["day"].isoformat(), "starts": f"{slot['starts']:%H:%M}",
                 "ends": f"{slot['ends']:%H:%M}", "day_fr": date_fr(slot["day"]), "minutes": slot_minutes(slot["starts"], slot["ends"])},
        "trainers": [{"id": t["id"], "name": t["name"]} for t in trainers],
        "closed_at": _utc_iso(at), "closed_at_fr": when_fr(at),
        "closed_by": {"id": user.id, "name": user.full_name},
        "countersignature_sha256": pad.signature_sha256(signature),
        "rows": out_rows, "totals": totals,
        TAGGED: True,  # issue 25: its PDF tagged PDF/UA (a sheet closed before renders untagged, as sealed)
    }


def _utc_iso(value) -> str:
    if isinstance(value, str):  # SQLite hands timestamps back as text
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()
