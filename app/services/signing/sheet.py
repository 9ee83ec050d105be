"""The signed attendance sheet of a closed slot (issue 22): rendered from the closure's snapshot and
the records' signature images, its PDF stored and its SHA-256 recorded. Filled in by the sheet work;
``after_close`` is what the closing calls once its transaction has committed."""

from __future__ import annotations


async def after_close(slot_id: int, redis=None) -> None:
    """Start the rendering of the slot's signed sheet (a job); never raises for the closing."""
    return None
