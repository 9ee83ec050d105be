"""The signed attendance sheet of a closed slot (issue 22): rendered from the closure's snapshot and
the records' signature images, its PDF stored and its SHA-256 recorded. ``after_close`` is what the
closing calls once its transaction has committed: it queues the ``seal_slot_sheet`` job, which calls
``seal_sheet``; a sheet not sealed yet (job lost, given up, still waiting) is sealed by its first
download or verification instead.

The PDF states the snapshot written at closing and nothing else (no clock: its metadata dates are
the closing's), so a render gives the same bytes every time. Each signature image is checked
against the SHA-256 the snapshot recorded for it before anything is rendered: a signature changed
in the database after the closing is refused (``SheetRefused``), never printed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging

from app.jobs import kinds
from app.pdf import bounded
from app.pdf.render import TAGGED, render_pdf_sync
from app.queue import connect
from app.services import files
from app.services.certificates.common import display_code
from app.services.errors import DomainError
from app.services.signing import pad
from app.services.signing.common import METHOD_LABELS, STATUS_LABELS, canonical_sha256, closure_of
from app.settings import get_settings
from app.tables.evidence import AttendanceRecord, SlotClosure
from app.tables.files import StoredFile

log = logging.getLogger(__name__)

TEMPLATE = "pdf/signed_sheet.html"
VERIFY_PATH = "/verifier/emargement/{code}"  # the route signing.verify
# A signature is printed 40 × 16 mm: drawn into at most this many pixels (~150 dpi), in grey levels
# on white — WeasyPrint embeds what it is given, and a phone's canvas is often 3× that in RGBA.
SIGNATURE_BOX = (240, 96)


class SheetRefused(DomainError):
    """The sheet cannot be rendered as it would no longer state what was signed."""

    status_code = 409


def readable_png(encoded: str) -> bool:
    """A first look before the render: a PNG signature and IHDR stating a signature's size
    (pad.MAX_WIDTH × pad.MAX_HEIGHT at most), so that a stored image that is no PNG, or a huge one,
    is a French refusal at once. Only a full decoding tells a sound PNG: the render's ``_small_png``
    decodes each image and turns any failure into SheetRefused."""
    size = pad.png_size(base64.b64decode(encoded[:64]))
    return size is not None and 1 <= size[0] <= pad.MAX_WIDTH and 1 <= size[1] <= pad.MAX_HEIGHT


def image_matches(encoded: str, expected: str) -> bool:
    """Whether a stored PNG (base64) is the one the snapshot hashed: the SHA-256 of the PNG's bytes
    (app/services/signing/pad.py signature_sha256)."""
    if not encoded or not expected:
        return False
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return False
    return expected.lower() == hashlib.sha256(raw).hexdigest()


# -- rendering (in the render pool) ---------------------------------------------------------------
def _small_png(encoded: str, whose: str) -> str:
    """The signature as a small grey-level PNG on white (a data: URI), fit into SIGNATURE_BOX; the
    same input gives the same bytes. An image that cannot be decoded whole: SheetRefused (French)."""
    try:
        small = pad.normalised(base64.b64decode(encoded), SIGNATURE_BOX, optimize=True)
    except (ValueError, binascii.Error):
        raise SheetRefused(f"{whose} n'est pas une image PNG lisible : la feuille signée n'est pas générée.") from None
    return "data:image/png;base64," + base64.b64encode(small).decode()


def _qr(payload: str) -> str:
    """The verification URL's QR code: one pixel per module, drawn unsmoothed (as certificates)."""
    import segno

    out = io.BytesIO()
    segno.make(payload, error="m").save(out, kind="png", scale=1, border=2)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def render_sync(context: dict) -> bytes:
    """The sheet's PDF from ``context`` (``sheet_context``): the same bytes every time. A plain
    function of plain data, so the render pool's child process runs it."""
    snap = context["snapshot"]
    rows = [{**row, "status_label": STATUS_LABELS.get(row["status"], row["status"]),
             "method_label": METHOD_LABELS.get(row.get("method", ""), row.get("method", "")),
             "image": _small_png(context["signatures"][str(row.get("record"))], f"La signature de {row.get('name', '')}")
             if context["signatures"].get(str(row.get("record"))) else ""} for row in snap["rows"]]
    countersignature = (_small_png(context["countersignature"], "La contre-signature du formateur")
                        if context["countersignature"] else "")
    return render_pdf_sync(TEMPLATE, {
        "s": snap, "rows": rows, "countersignature": countersignature, "code": display_code(context["code"]),
        "records_sha256": context["records_sha256"], "verify_url": context["verify_url"],
        "qr": _qr(context["verify_url"]),
    }, tagged=bool(snap.get(TAGGED)))


def _sample_png() -> str:
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (200, 80), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(10, 60), (60, 20), (120, 50), (190, 15)], fill=(0, 0, 0, 255), width=3)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def warm_up() -> None:
    """Run by a new render child (app/pdf/bounded.py) before its first render, outside any deadline."""
    png = _sample_png()
    snapshot = {"session": {"code": "", "name": "", "place": "", "establishment": ""},
                "slot": {"day_fr": "", "starts": "", "ends": ""}, "trainers": [], "closed_at": "",
                "closed_at_fr": "", "closed_by": {"name": ""}, "totals": {"present": 1, "absent": 0, "excused": 0},
                "rows": [{"name": "A", "status": "present", "method": "qr", "record": 1, "recorded_at_fr": "",
                          "reason": ""}], TAGGED: True}
    render_sync({"snapshot": snapshot, "signatures": {"1": png}, "countersignature": png, "code": "2222222222",
                 "records_sha256": "0" * 64, "verify_url": get_settings().base_url + VERIFY_PATH.format(code="X")})


# A sheet whose snapshot the retention job emptied (issue 25, app/services/retention/job.py).
EXPIRED = ("Cette feuille d'émargement n'est plus conservée : sa durée de conservation est écoulée. Son empreinte "
           "reste vérifiable.")


# -- the closure and its images (``common.closure_of``) --------------------------------------------
async def sheet_context(closure: dict) -> dict:
    """What ``render_sync`` needs: the snapshot (checked against records_sha256), and the signature
    images of its rows (by record) and the countersignature, each checked against the SHA-256 the
    snapshot holds and read as a PNG of a sane size (SheetRefused when one is missing or differs)."""
    snap = closure["snapshot"]
    if not snap:
        raise SheetRefused(EXPIRED)
    if canonical_sha256(snap) != closure["records_sha256"]:
        log.error("slot %s: its snapshot no longer gives its records_sha256", closure["slot"])
        raise SheetRefused("Les enregistrements de ce créneau ne correspondent plus à leur empreinte de clôture "
                           "(SHA-256) : la feuille signée n'est pas générée.")
    wanted = {int(r["record"]): r for r in snap.get("rows", []) if r.get("signature_sha256") and r.get("record")}
    stored = {}
    if wanted:
        stored = {r["id"]: r["signature"] for r in await AttendanceRecord.select(
            AttendanceRecord.id, AttendanceRecord.signature).where(AttendanceRecord.id.is_in(sorted(wanted)))}
    for record_id, row in wanted.items():
        if not image_matches(stored.get(record_id, ""), row["signature_sha256"]):
            log.error("slot %s: the signature of record %s differs from its closing hash", closure["slot"], record_id)
            raise SheetRefused(f"La signature de {row['name']} ne correspond plus à celle enregistrée à la clôture "
                               "(empreinte SHA-256 différente) : la feuille signée n'est pas générée.")
        if not readable_png(stored[record_id]):
            raise SheetRefused(f"La signature de {row['name']} n'est pas une image PNG lisible : la feuille signée "
                               "n'est pas générée.")
    countersignature = ""
    if snap.get("countersignature_sha256"):
        row = await SlotClosure.select(SlotClosure.countersignature).where(SlotClosure.id == closure["id"]).first()
        countersignature = row["countersignature"]
        if not image_matches(countersignature, snap["countersignature_sha256"]):
            raise SheetRefused("La contre-signature du formateur ne correspond plus à celle enregistrée à la clôture "
                               "(empreinte SHA-256 différente) : la feuille signée n'est pas générée.")
        if not readable_png(countersignature):
            raise SheetRefused("La contre-signature du formateur n'est pas une image PNG lisible : la feuille signée "
                               "n'est pas générée.")
    return {"snapshot": snap, "signatures": {str(k): stored[k] for k in wanted}, "countersignature": countersignature,
            "code": closure["code"], "records_sha256": closure["records_sha256"],
            "verify_url": get_settings().base_url + VERIFY_PATH.format(code=closure["code"])}


async def render(closure: dict) -> bytes:
    """In the render pool, with its deadline (app/pdf/bounded.py): never on the event loop."""
    return await bounded.run_async(render_sync, await sheet_context(closure))


def filename(closure: dict) -> str:
    snap = closure["snapshot"]
    slot = snap.get("slot", {})
    parts = [snap.get("session", {}).get("code", ""), slot.get("day", ""), slot.get("starts", "").replace(":", "h")]
    name = "-".join("".join(c if c.isalnum() else "-" for c in p) for p in parts if p)
    return f"feuille-emargement-{name}.pdf"


# -- sealing --------------------------------------------------------------------------------------
async def _stored_pdf(file_id: int | None) -> bytes | None:
    return None if file_id is None else await files.content(file_id)


async def seal_sheet(slot_id: int) -> bytes | None:
    """Render the closed slot's sheet, keep it (stored_file, referenced by SlotClosure.file: never
    purged) and record its SHA-256. Idempotent: a sheet already kept is read, not rendered; two
    callers at once both render the same bytes, and the first to write wins (the other's copy is
    deleted). Returns the PDF, or None when the slot is not closed. Raises SheetRefused, RenderFailed."""
    closure = await closure_of(slot_id)
    if closure is None:
        return None
    kept = await _stored_pdf(closure["file"])
    if kept is not None:
        return kept
    pdf = await render(closure)
    digest = hashlib.sha256(pdf).hexdigest()
    if closure["pdf_sha256"] and closure["pdf_sha256"] != digest:
        log.error("slot %s: its sheet renders to %s, not the recorded %s", slot_id, digest, closure["pdf_sha256"])
    file_id = await files.store_generated(filename(closure), "application/pdf", pdf, None)
    won = await SlotClosure.raw(
        "UPDATE slot_closure SET file = {}, pdf_sha256 = CASE WHEN pdf_sha256 = '' THEN {} ELSE pdf_sha256 END "
        "WHERE id = {} AND file IS NULL RETURNING id", file_id, digest, closure["id"])
    if won:
        return pdf
    await StoredFile.delete().where(StoredFile.id == file_id)  # another caller kept the same sheet first
    row = await SlotClosure.select(SlotClosure.file).where(SlotClosure.id == closure["id"]).first()
    return await _stored_pdf(row["file"]) or pdf


async def after_close(slot_id: int, redis=None) -> None:
    """Start the rendering of the slot's signed sheet (the ``seal_slot_sheet`` job, one per slot);
    never raises for the closing: a sheet not sealed by the job is sealed by its first download."""
    own = redis is None
    try:
        redis = redis or await connect()
        await kinds.SLOT_SHEET.submit(redis, int(slot_id))
    except Exception:  # noqa: BLE001 - the closing is committed; the sheet renders on demand
        log.exception("Could not queue the signed sheet of slot %s", slot_id)
    finally:
        if own and redis is not None:
            await redis.aclose()


async def give_up(args_list: list[list], reason: str) -> None:
    """``on_give_up`` of seal_slot_sheet: nothing to undo — the closure keeps no « in progress » state,
    and its sheet is rendered (and kept) by its first download or verification."""
    for args in args_list:
        log.warning("signed sheet of slot %s not sealed by its job (%s): rendered on demand", args[:1], reason)
