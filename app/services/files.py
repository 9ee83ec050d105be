"""Stored files: an activity's upload (the real type from the magic bytes, never the browser's word or
the name, a size cap) and what the application makes (a job's result, a signed sheet), kept in
PostgreSQL (see app/tables/files.py for why) in pieces of ``CHUNK_BYTES``: written from bytes or
from a scratch file, and read back, a piece at a time (one query each), whatever the file's size —
so memory stays bounded from the job's render to the download, HTTP ranges included."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from app import db
from app.dates import now
from app.numbers import INT64_MAX, to_int
from app.services.errors import NotFound, ValidationFailed
from app.services.text import BIDI_CONTROLS
from app.settings import get_settings
from app.tables.files import CHUNK_BYTES, StoredFile, StoredFileChunk

# (content type, label, test on the first bytes); office formats are ZIP files, told by their name.
_SIGNATURES = [
    ("application/pdf", lambda b: b.startswith(b"%PDF-")),
    ("image/png", lambda b: b.startswith(b"\x89PNG\r\n\x1a\n")),
    ("image/jpeg", lambda b: b.startswith(b"\xff\xd8\xff")),
    ("video/mp4", lambda b: b[4:8] == b"ftyp"),
    ("video/webm", lambda b: b.startswith(b"\x1a\x45\xdf\xa3")),
    ("audio/mpeg", lambda b: b.startswith(b"ID3") or b[:2] in (b"\xff\xfb", b"\xff\xf3")),
]
_OFFICE = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
}
ACCEPTED_TEXT = "PDF, PNG, JPEG, MP4, WebM, MP3, Word (.docx), Excel (.xlsx), PowerPoint (.pptx), OpenDocument (.odt)"


def detect_type(name: str, head: bytes) -> str | None:
    for content_type, test in _SIGNATURES:
        if test(head):
            return content_type
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if head.startswith(b"PK\x03\x04") and extension in _OFFICE:
        return _OFFICE[extension]
    return None


def safe_name(name: str) -> str:
    name = re.sub(f"[\\x00-\\x1f\\x7f{BIDI_CONTROLS}\\\\/\"]", "_",
                  name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip() or "fichier"
    return name[:200]


async def store(name: str, content: bytes, user_id: int | None) -> int:
    limit = get_settings().file_max_bytes
    if not content:
        raise ValidationFailed({"file": "Le fichier est vide."})
    if len(content) > limit:
        raise ValidationFailed({"file": f"Le fichier dépasse la taille maximale ({limit // 1_048_576} Mo). "
                                        "Pour une vidéo plus longue, donnez un lien."})
    content_type = detect_type(name, content[:16])
    if content_type is None:
        raise ValidationFailed({"file": f"Type de fichier non accepté. Formats acceptés : {ACCEPTED_TEXT}."})
    return await _keep(safe_name(name), content_type, _pieces_of_bytes(content), user_id)


async def store_generated(name: str, content_type: str, content: bytes | Path, user_id: int | None) -> int:
    """A file the application made (a job's result, a signed sheet), not an upload: no type or size
    check. ``content``: its bytes, or the path of the scratch file holding it (read a piece at a time:
    a ZIP of a whole session never sits in memory)."""
    pieces = _pieces_of_path(content) if isinstance(content, Path) else _pieces_of_bytes(content)
    return await _keep(safe_name(name), content_type, pieces, user_id)


async def _pieces_of_bytes(content: bytes) -> AsyncIterator[bytes]:
    view = memoryview(content)
    for start in range(0, len(view), CHUNK_BYTES):
        yield view[start:start + CHUNK_BYTES]


async def _pieces_of_path(path: Path) -> AsyncIterator[bytes]:
    with open(path, "rb") as stream:
        while piece := await asyncio.to_thread(stream.read, CHUNK_BYTES):
            yield piece


async def _keep(name: str, content_type: str, pieces: AsyncIterator, user_id: int | None) -> int:
    """One stored_file row and its chunks, in one transaction: nobody sees a file half written. The
    pieces are cut again to exactly CHUNK_BYTES (the reader finds byte n in chunk n // CHUNK_BYTES)."""
    digest, size, seq, buffer = hashlib.sha256(), 0, 0, bytearray()
    async with db.transaction():
        row = await StoredFile.insert(StoredFile(
            name=name, content_type=content_type, size=0, sha256="", created_by=user_id,
        )).returning(StoredFile.id)
        file_id = row[0]["id"]
        async for piece in pieces:
            digest.update(piece)
            size += len(piece)
            if not buffer and len(piece) == CHUNK_BYTES:  # a scratch file's read, a slice of bytes: as is
                await _write_chunk(file_id, seq, bytes(piece))
                seq += 1
                continue
            buffer += piece
            while len(buffer) >= CHUNK_BYTES:
                await _write_chunk(file_id, seq, bytes(buffer[:CHUNK_BYTES]))
                del buffer[:CHUNK_BYTES]
                seq += 1
        if buffer:
            await _write_chunk(file_id, seq, bytes(buffer))
        await StoredFile.update({StoredFile.size: size, StoredFile.sha256: digest.hexdigest()}).where(
            StoredFile.id == file_id)
    return file_id


async def _write_chunk(file_id: int, seq: int, data: bytes) -> None:
    await StoredFileChunk.raw("INSERT INTO stored_file_chunk (file, seq, data) VALUES ({}, {}, {})", file_id, seq, data)


async def info(file_id: int) -> dict:
    row = await StoredFile.select(StoredFile.id, StoredFile.name, StoredFile.content_type, StoredFile.size,
                                  StoredFile.sha256).where(StoredFile.id == file_id).first()
    if row is None:
        raise NotFound("Fichier introuvable.")
    return row


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """(first, last) byte of a single "bytes=a-b" range; None for no header; False if unsatisfiable."""
    if not header:
        return None
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if not match or (not match[1] and not match[2]):
        return None  # not a single byte range: the whole file
    # A number past bigint (or 5,000 digits) is beyond any file: read as "past the end".
    beyond = size + 1
    if match[1]:
        first = to_int(match[1], beyond, low=0, high=INT64_MAX)
        last = min(to_int(match[2], beyond, low=0, high=INT64_MAX), size - 1) if match[2] else size - 1
    else:
        first, last = max(size - to_int(match[2], beyond, low=0, high=INT64_MAX), 0), size - 1
    if first >= size or first > last:
        return False
    return first, last


class FileGone(RuntimeError):
    """A file deleted (or its chunks lost) while it was being read: the download breaks off rather
    than end short as if complete."""


async def pieces(file_id: int, first: int = 0, last: int | None = None) -> AsyncIterator[bytes]:
    """The bytes ``first`` to ``last`` (included; None: to the end) of a stored file, a chunk at a
    time: one query per chunk, none held open between them (a slow client holds no connection, and a
    transaction-mode PgBouncer is fine). ``last`` past the end stops at the end."""
    seq, offset = divmod(first, CHUNK_BYTES)
    while last is None or seq * CHUNK_BYTES <= last:
        rows = await StoredFileChunk.raw("SELECT data FROM stored_file_chunk WHERE file = {} AND seq = {}",
                                         file_id, seq)
        if not rows:
            if last is None:
                return  # past the last chunk (or an empty file)
            raise FileGone(f"stored file {file_id}: no chunk {seq}")
        data = rows[0]["data"]
        end = len(data) if last is None else min(len(data), last - seq * CHUNK_BYTES + 1)
        if end > offset:
            yield bytes(data[offset:end])
        if len(data) < CHUNK_BYTES:
            return  # the last chunk
        seq, offset = seq + 1, 0


async def content(file_id: int) -> bytes | None:
    """A small stored file whole (a signed sheet of a few pages, to seal or mail); None when there is
    none. A large one is streamed with ``pieces``."""
    if not await StoredFile.exists().where(StoredFile.id == file_id):
        return None
    return b"".join([piece async for piece in pieces(file_id)])


# A file no activity uses any more (replaced, removed, its activity deleted or retired) is kept this
# long: an upload is stored a moment before the activity that points to it is saved, and a retired
# activity restored the same day gets its file back.
UNREFERENCED_GRACE = timedelta(hours=24)


async def delete_unreferenced(grace: timedelta = UNREFERENCED_GRACE) -> int:
    """Delete, in one statement, every stored file older than `grace` that no template activity and
    no session activity uses — an activity retired for longer than `grace` no longer counts (its
    `file` is then cleared by the foreign key) — and that is no slot's signed attendance sheet
    (SlotClosure.file: evidence, kept for good). Returns how many were deleted. Run by a cron job."""
    cutoff = now() - grace
    rows = await StoredFile.raw(
        "DELETE FROM stored_file WHERE created_at < {} "
        "AND NOT EXISTS (SELECT 1 FROM template_activity t WHERE t.file = stored_file.id) "
        "AND NOT EXISTS (SELECT 1 FROM slot_closure c WHERE c.file = stored_file.id) "
        "AND NOT EXISTS (SELECT 1 FROM session_activity a WHERE a.file = stored_file.id "
        "AND (a.retired_at IS NULL OR a.retired_at >= {})) RETURNING id", cutoff, cutoff)
    return len(rows)
