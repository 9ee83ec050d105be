"""A closed slot for tests and benches of the signed sheet (issue 22), built without the signing
screens: a session (factories.session_with_learners) with one slot and a trainer, one
AttendanceRecord per learner (drawn signatures as PNG, base64, like a canvas's), the Attendance rows
pointing at them, and the SlotClosure whose snapshot has exactly the shape documented by
app/services/signing/closing.py ``_snapshot``."""

from __future__ import annotations

import base64
import hashlib
import io
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from app.dates import date_fr, short_datetime_fr
from app.pdf.render import TAGGED
from app.services.certificates.common import new_code
from app.services.signing.common import canonical_sha256
from app.tables.accounts import User
from app.tables.catalogue import SessionSlot, TrainingSession
from app.tables.evidence import AttendanceRecord, SlotClosure
from app.tables.learning import Attendance
from app.tables.org import Establishment
from tests import factories


def signature_png(seed: int, size: tuple[int, int] = (200, 80)) -> str:
    """A drawn signature as a canvas gives it: a transparent RGBA PNG with a black line, base64."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    width, height = size
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    points = [(int(width * (0.05 + 0.9 * i / 11)), rng.randint(height // 6, height * 5 // 6)) for i in range(12)]
    ImageDraw.Draw(image).line(points, fill=(20, 20, 60, 255), width=max(2, width // 80), joint="curve")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def png_sha256(encoded: str) -> str:
    return hashlib.sha256(base64.b64decode(encoded)).hexdigest() if encoded else ""


@dataclass
class ClosedSlot:
    session_id: int
    slot_id: int
    closure_id: int
    code: str
    trainer_id: int
    enrolments: list[int]
    records: dict[int, int]  # enrolment → record id
    snapshot: dict
    names: list[str] = field(default_factory=list)


def _fr_time(at: datetime) -> str:
    return short_datetime_fr(at)[-5:]


async def closed_slot(learners: int = 3, establishment_id: int | None = None, absent: tuple[int, ...] = (),
                      excused: tuple[int, ...] = (), marked: tuple[int, ...] = (), png_size=(200, 80),
                      closed_at: datetime | None = None) -> ClosedSlot:
    """A slot closed by its trainer: learner i (in creation order) signed by QR (even i) or link (odd
    i) with a drawn signature, unless in ``marked`` (present, marked by the trainer: no image),
    ``absent`` (had not signed at closing) or ``excused`` (« Excusé », with a reason)."""
    if establishment_id is None:
        establishment_id = (await Establishment.select(Establishment.id).where(
            Establishment.code == "ALP001").first())["id"]
    built = await factories.session_with_learners(establishment_id, learners_count=learners, slots=1,
                                                  place="Salle Rameau\n12 rue des Lilas, Lyon")
    slot = built.slots[0]
    slot_id = (await SessionSlot.select(SessionSlot.id).where(SessionSlot.session == built.id).first())["id"]
    session = await TrainingSession.select(TrainingSession.code, TrainingSession.full_name, TrainingSession.place,
                                           TrainingSession.establishment.name.as_alias("establishment")).where(
        TrainingSession.id == built.id).first()
    trainer_id = await factories.trainer(built.id)
    trainer = await User.select(User.first_name, User.last_name).where(User.id == trainer_id).first()
    trainer_name = f"{trainer['first_name']} {trainer['last_name']}"
    people = {u["id"]: u for u in await User.select(User.id, User.first_name, User.last_name).where(
        User.id.is_in(built.learners or [0]))}
    start = datetime.combine(slot.day, slot.starts, tzinfo=timezone.utc) - timedelta(hours=1)
    closed_at = closed_at or start + timedelta(hours=3, minutes=40)
    rows, records = [], {}
    for i, user_id in enumerate(built.learners):
        enrolment = built.enrolments[user_id]
        if i in absent:
            status, method, signature, reason, at = "absent", "closing", "", "", closed_at
        elif i in excused:
            status, method, signature, reason, at = "excused", "trainer", "", "Rendez-vous médical", start
        elif i in marked:
            status, method, signature, reason, at = "present", "trainer", "", "", start + timedelta(minutes=i)
        else:
            status, method, reason, at = "present", ("qr", "link")[i % 2], "", start + timedelta(minutes=i % 50)
            signature = signature_png(i, png_size)
        record = (await AttendanceRecord.insert(AttendanceRecord(
            enrolment=enrolment, slot=slot_id, status=status, method=method, recorded_at=at,
            recorded_by=trainer_id if method in ("trainer", "closing") else user_id, signature=signature,
            client_hash="0" * 64, reason=reason)).returning(AttendanceRecord.id))[0]["id"]
        await Attendance.insert(Attendance(enrolment=enrolment, slot=slot_id, status=status, recorded_by=trainer_id,
                                           recorded_at=at, record=record))
        records[enrolment] = record
        person = people[user_id]
        rows.append({"enrolment": enrolment, "name": f"{person['first_name']} {person['last_name']}",
                     "status": status, "method": method, "record": record, "recorded_at": at.isoformat(),
                     "recorded_at_fr": _fr_time(at), "reason": reason, "signature_sha256": png_sha256(signature),
                     "_key": (person["last_name"].lower(), person["first_name"].lower())})
    rows.sort(key=lambda r: r["_key"])
    for r in rows:
        r.pop("_key")
    countersignature = signature_png(10_000, (300, 120))
    snapshot = {
        "version": 1,
        "session": {"id": built.id, "code": session["code"], "name": session["full_name"],
                    "place": session["place"], "establishment": session["establishment"]},
        "slot": {"id": slot_id, "day": slot.day.isoformat(), "starts": slot.starts.strftime("%H:%M"),
                 "ends": slot.ends.strftime("%H:%M"), "day_fr": date_fr(slot.day), "minutes": slot.minutes},
        "trainers": [{"id": trainer_id, "name": trainer_name}],
        "closed_at": closed_at.isoformat(), "closed_at_fr": short_datetime_fr(closed_at),
        "closed_by": {"id": trainer_id, "name": trainer_name},
        "countersignature_sha256": png_sha256(countersignature),
        "rows": rows,
        "totals": {s: sum(1 for r in rows if r["status"] == s) for s in ("present", "absent", "excused")},
        TAGGED: True,
    }
    code = new_code()
    closure_id = (await SlotClosure.insert(SlotClosure(
        slot=slot_id, closed_at=closed_at, closed_by=trainer_id, countersignature=countersignature, certified=True,
        snapshot=snapshot, records_sha256=canonical_sha256(snapshot), code=code)).returning(SlotClosure.id))[0]["id"]
    return ClosedSlot(built.id, slot_id, closure_id, code, trainer_id, [r["enrolment"] for r in rows],
                      records, snapshot, [r["name"] for r in rows])
