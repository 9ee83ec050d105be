"""A drawn signature as it arrives from the signing pad (a canvas's ``toDataURL("image/png")``):
checked strictly before anything is stored — the data URL's prefix, strict base64, the PNG signature
bytes, at most MAX_BYTES decoded, sane dimensions read from the IHDR chunk — and stored as base64
without the prefix (``AttendanceRecord.signature``, ``SlotClosure.countersignature``).

``signature_sha256`` is the hash the closing's snapshot keeps of each image: SHA-256 of the PNG bytes
(decoded), hex; "" for no image. The signed sheet checks each image it prints against it."""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct

PREFIX = "data:image/png;base64,"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 60 * 1024
MAX_WIDTH, MAX_HEIGHT = 2000, 1000

UNREADABLE = "La signature n'a pas pu être lue (image PNG attendue) : effacez-la et signez à nouveau."
TOO_LARGE = "La signature est trop volumineuse : effacez-la et signez à nouveau, plus simplement."


class BadSignature(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def read(data_url: str | None) -> str:
    """The base64 PNG of a posted signature ("" when none was drawn), or BadSignature (French)."""
    data_url = (data_url or "").strip()
    if not data_url:
        return ""
    if not data_url.startswith(PREFIX):
        raise BadSignature(UNREADABLE)
    encoded = data_url[len(PREFIX):]
    if len(encoded) > (MAX_BYTES * 4) // 3 + 4:
        raise BadSignature(TOO_LARGE)
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BadSignature(UNREADABLE) from None
    if len(raw) > MAX_BYTES:
        raise BadSignature(TOO_LARGE)
    if len(raw) < 33 or not raw.startswith(PNG_MAGIC) or raw[12:16] != b"IHDR" or raw[8:12] != b"\x00\x00\x00\x0d":
        raise BadSignature(UNREADABLE)
    width, height = struct.unpack(">II", raw[16:24])
    if not (1 <= width <= MAX_WIDTH and 1 <= height <= MAX_HEIGHT):
        raise BadSignature(UNREADABLE)
    return base64.b64encode(raw).decode()


def signature_sha256(stored: str | None) -> str:
    """SHA-256 (hex) of a stored signature's PNG bytes; "" for none."""
    if not stored:
        return ""
    return hashlib.sha256(base64.b64decode(stored)).hexdigest()
