"""The signed attendance sheet of a slot just closed (issue 22): rendered, kept and hashed."""

from app.services.signing import sheet


async def seal_slot_sheet(ctx, slot_id: int) -> str:
    """Idempotent (app/services/signing/sheet.py ``seal_sheet``): a sheet already kept is not rendered again."""
    pdf = await sheet.seal_sheet(slot_id)
    return "créneau non clôturé" if pdf is None else f"{len(pdf)} octets"
