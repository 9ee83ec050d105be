"""The signed attendance sheet for the people who may read it: its download by the managers in scope
and the slot's trainers, and its public verification by code (issue 22), like a certificate's."""

from __future__ import annotations

import hashlib
import logging
import secrets

from app.pdf.bounded import RenderFailed
from app.services.certificates.common import display_code, normalize_code
from app.services.errors import DomainError
from app.services.roles import CurrentUser
from app.services.signing.common import STATUS_LABELS, canonical_sha256, closure_of, load_snapshot
from app.services.signing.sheet import SheetRefused, filename, seal_sheet
from app.services.trainer_scope import staff_slot
from app.tables.evidence import SlotClosure

log = logging.getLogger(__name__)
NOT_CLOSED = ("Ce créneau n'est pas encore clôturé : la feuille signée sera disponible après la contre-signature "
              "du formateur.")
UPLOAD_MAX_BYTES = 20 * 1024 * 1024  # a sheet of 100 learners is well under 2 Mo
NOT_RENDERED = ("La feuille signée de ce créneau n'a pas pu être générée : les enregistrements restent tels "
                "qu'ils ont été clôturés. Réessayez plus tard et, si cela persiste, signalez-le à l'équipe de la "
                "plateforme.")


class NotClosed(DomainError):
    status_code = 409


async def _sealed(slot_id: int) -> bytes | None:
    """``seal_sheet``, whose every failure is a French DomainError (SheetRefused, RenderFailed), never a 500."""
    try:
        return await seal_sheet(slot_id)
    except (SheetRefused, RenderFailed):
        raise
    except Exception:  # noqa: BLE001 - an image or a renderer's failure: said, logged
        log.exception("the signed sheet of slot %s could not be rendered", slot_id)
        raise SheetRefused(NOT_RENDERED) from None


async def staff_sheet(user: CurrentUser | None, slot_id: int) -> tuple[bytes, str]:
    """(the PDF, its file name) of a closed slot for a manager in scope or one of its trainers; the
    same NotFound as a missing slot for anyone else; NotClosed before the closing. A sheet not kept
    yet is rendered and kept now."""
    await staff_slot(user, slot_id)
    closure = await closure_of(slot_id)
    pdf = await _sealed(slot_id) if closure is not None else None
    if pdf is None:
        raise NotClosed(NOT_CLOSED)
    return pdf, filename(closure)


async def closure_code(typed: str) -> str | None:
    """The stored code of a closure this typed code names (for /verifier's fall-through), else None."""
    code = normalize_code(typed)
    if code is None:
        return None
    return code if await SlotClosure.exists().where(SlotClosure.code == code) else None


async def verify(typed: str) -> dict | None:
    """What the public page shows for a closure's code, and nothing else: the session, the slot, the
    trainers, the closing, the totals, each learner's name and status (what a paper copy can be
    compared with; no signature, time, reason nor any other personal data), the two SHA-256 and
    whether the snapshot still gives the recorded one. None for an unknown or malformed code."""
    code = normalize_code(typed)
    if code is None:
        return None
    row = await SlotClosure.select(SlotClosure.slot, SlotClosure.snapshot, SlotClosure.records_sha256,
                                   SlotClosure.pdf_sha256).where(SlotClosure.code == code).first()
    if row is None:
        return None
    problem = ""
    snap = load_snapshot(row["snapshot"])
    if not snap:  # emptied at the end of its retention: only the code and the hashes remain
        return {"code": display_code(code), "raw_code": code, "expired": True, "records_sha256": row["records_sha256"],
                "pdf_sha256": row["pdf_sha256"], "records_intact": False, "learners": [], "trainers": [],
                "totals": {}}
    if not row["pdf_sha256"]:  # not rendered yet: now, for the upload check
        try:
            await _sealed(row["slot"])
        except (SheetRefused, RenderFailed) as error:  # said on the page, never a 500
            problem = error.message
        row["pdf_sha256"] = (await SlotClosure.select(SlotClosure.pdf_sha256).where(
            SlotClosure.code == code).first())["pdf_sha256"]
    session, slot = snap.get("session", {}), snap.get("slot", {})
    return {
        "code": display_code(code), "raw_code": code,
        "session_code": session.get("code", ""), "session_name": session.get("name", ""),
        "day": slot.get("day_fr", ""), "starts": slot.get("starts", ""), "ends": slot.get("ends", ""),
        "trainers": [t.get("name", "") for t in snap.get("trainers", [])],
        "closed_at": snap.get("closed_at_fr", ""), "totals": snap.get("totals", {}),
        "learners": [{"name": r.get("name", ""), "status": STATUS_LABELS.get(r.get("status"), r.get("status", ""))}
                     for r in snap.get("rows", [])],
        "records_sha256": row["records_sha256"], "pdf_sha256": row["pdf_sha256"],
        "pdf_problem": problem,
        "records_intact": secrets.compare_digest(canonical_sha256(snap), row["records_sha256"] or ""),
    }


def pdf_matches(found: dict, content: bytes) -> bool:
    return bool(found["pdf_sha256"]) and secrets.compare_digest(hashlib.sha256(content).hexdigest(), found["pdf_sha256"])
