"""What the émargement's modules share (issue 22): the French labels of a record's status and method
(the trainer's list, the signed sheet, the grid, the corrections, the verification page), the
canonical SHA-256 of a closure's snapshot, and the closure of a slot as stored."""

from __future__ import annotations

import hashlib
import json

from app.tables.evidence import SlotClosure

STATUS_LABELS = {"present": "Présent", "absent": "Absent", "excused": "Excusé"}
METHOD_LABELS = {"qr": "QR code", "link": "lien", "trainer": "formateur", "manager": "gestionnaire",
                 "closing": "à la clôture", "correction": "correction"}

SESSION_CANCELLED = ("Cette session est annulée : ses créneaux ne s'émargent pas et ne se clôturent pas. "
                     "Rien n'a été enregistré.")


def canonical_sha256(snapshot: dict) -> str:
    """``SlotClosure.records_sha256``: SHA-256 of the snapshot's canonical JSON (closing._snapshot)."""
    canonical = json.dumps(snapshot, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def load_snapshot(value) -> dict:
    return json.loads(value) if isinstance(value, str) else dict(value or {})


CLOSURE_COLUMNS = (SlotClosure.id, SlotClosure.slot, SlotClosure.code, SlotClosure.snapshot,
                   SlotClosure.records_sha256, SlotClosure.pdf_sha256, SlotClosure.file, SlotClosure.closed_at,
                   SlotClosure.closed_by.first_name.as_alias("first_name"),
                   SlotClosure.closed_by.last_name.as_alias("last_name"))


async def closure_of(slot_id: int) -> dict | None:
    """The slot's closure (its snapshot read, the closer's names), or None before the closing."""
    row = await SlotClosure.select(*CLOSURE_COLUMNS).where(SlotClosure.slot == slot_id).first()
    if row is not None:
        row["snapshot"] = load_snapshot(row["snapshot"])
    return row


async def is_closed(slot_id: int) -> bool:
    return await SlotClosure.exists().where(SlotClosure.slot == slot_id)
