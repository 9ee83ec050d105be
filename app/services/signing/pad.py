"""A drawn signature as it arrives from the signing pad (a canvas's ``toDataURL("image/png")``).

Nothing posted is stored as it came: ``read`` checks the data URL's prefix, strict base64, at most
MAX_BYTES decoded, the PNG signature and the dimensions its IHDR chunk states (before any pixel is
decoded: Pillow reads the header lazily), every chunk whole (CRC) up to IEND, then decodes the whole image with Pillow — a PNG whose
header is sound but whose data is not is refused here, not at the signed sheet's render — and
re-encodes it as a small grey-level PNG on white (fit into STORED_BOX). That normalised PNG is what
is stored (base64 without the prefix: ``AttendanceRecord.signature``, ``SlotClosure.countersignature``)
and hashed. The decoding runs off the event loop (``asyncio.to_thread``): a few milliseconds.

``signature_sha256`` is the hash the closing's snapshot keeps of each image: SHA-256 of the stored
PNG bytes (decoded base64), hex; "" for no image. The signed sheet checks each image it prints
against it."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import io
import struct
import zlib

from PIL import Image

PREFIX = "data:image/png;base64,"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 60 * 1024
MAX_WIDTH, MAX_HEIGHT = 2000, 1000
# The signing pad's canvas is 600 × 200 (templates/signing/_pad.html): kept at that size, in grey
# levels (a third of its RGB PNG, ~3 KB); the sheet prints it 40 × 16 mm (sheet.SIGNATURE_BOX).
STORED_BOX = (600, 240)

UNREADABLE = "La signature n'a pas pu être lue (image PNG attendue) : effacez-la et signez à nouveau."
TOO_LARGE = "La signature est trop volumineuse : effacez-la et signez à nouveau, plus simplement."


class BadSignature(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def png_size(raw: bytes) -> tuple[int, int] | None:
    """(width, height) stated by a PNG's IHDR chunk, or None when ``raw`` does not start as a PNG."""
    if len(raw) < 33 or not raw.startswith(PNG_MAGIC) or raw[8:16] != b"\x00\x00\x00\x0dIHDR":
        return None
    return struct.unpack(">II", raw[16:24])


def _chunks_sound(raw: bytes) -> bool:
    """Every chunk whole with its CRC, image data present, ending with IEND and nothing after. Pillow
    alone is lenient here: WeasyPrint sets ``ImageFile.LOAD_TRUNCATED_IMAGES`` for the whole process,
    so a truncated image would be decoded with its missing rows filled in."""
    at, seen_data = 8, False
    while at + 12 <= len(raw):
        length = struct.unpack(">I", raw[at:at + 4])[0]
        kind, end = raw[at + 4:at + 8], at + 12 + length
        if end > len(raw) or zlib.crc32(raw[at + 4:end - 4]) != struct.unpack(">I", raw[end - 4:end])[0]:
            return False
        seen_data = seen_data or kind == b"IDAT"
        if kind == b"IEND":
            return seen_data and end == len(raw)
        at = end
    return False


def normalised(raw: bytes, box: tuple[int, int] = STORED_BOX, optimize: bool = False) -> bytes:
    """A PNG's pixels fully decoded and re-encoded as a grey-level PNG on white fit into ``box`` (the
    same input gives the same bytes). ValueError when ``raw`` is no PNG of at most MAX_WIDTH ×
    MAX_HEIGHT or cannot be decoded whole. ``optimize``: Pillow's smallest PNG, ~4 times slower
    (~12 ms for a canvas, against ~3 ms: not while a learner waits)."""
    size = png_size(raw)
    if size is None or not (1 <= size[0] <= MAX_WIDTH and 1 <= size[1] <= MAX_HEIGHT):
        raise ValueError("not a PNG of a signature's size")
    if not _chunks_sound(raw):
        raise ValueError("truncated or damaged PNG")
    try:
        with Image.open(io.BytesIO(raw), formats=["PNG"]) as image:
            if image.size != size:
                raise ValueError("IHDR and image disagree")
            image.load()
            rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        grey = Image.alpha_composite(white, rgba).convert("L")
        grey.thumbnail(box)
        out = io.BytesIO()
        grey.save(out, format="PNG", optimize=optimize)
    except ValueError:
        raise
    except Exception as error:  # noqa: BLE001 - Pillow's decoders raise OSError, SyntaxError, EOFError, struct.error…
        raise ValueError(f"undecodable PNG: {error}") from None
    return out.getvalue()


def read_sync(data_url: str | None) -> str:
    """The stored form (base64 of the normalised PNG, "" when none was drawn) of a posted signature,
    or BadSignature (French). Blocks a few ms: see ``read``."""
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
    try:
        return base64.b64encode(normalised(raw)).decode()
    except ValueError:
        raise BadSignature(UNREADABLE) from None


async def read(data_url: str | None) -> str:
    """``read_sync`` off the event loop (Pillow's decoding is CPU work)."""
    if not (data_url or "").strip():
        return ""
    return await asyncio.to_thread(read_sync, data_url)


def signature_sha256(stored: str | None) -> str:
    """SHA-256 (hex) of a stored signature's PNG bytes; "" for none."""
    if not stored:
        return ""
    return hashlib.sha256(base64.b64decode(stored)).hexdigest()
