"""Activity files: the real type from the magic bytes (never the browser's word or the name), a size
cap, stored in PostgreSQL (see app/tables/files.py for why), served with HTTP Range support."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from app import db
from app.dates import now
from app.numbers import INT64_MAX, to_int
from app.services.errors import NotFound, ValidationFailed
from app.settings import get_settings
from app.tables.files import StoredFile

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
    name = re.sub(r"[\x00-\x1f\\/\"]", "_", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip() or "fichier"
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
    row = await StoredFile.insert(StoredFile(
        name=safe_name(name), content_type=content_type, size=len(content),
        sha256=hashlib.sha256(content).hexdigest(), data=content, created_by=user_id,
    )).returning(StoredFile.id)
    return row[0]["id"]


async def store_generated(name: str, content_type: str, content: bytes, user_id: int | None) -> int:
    """A file the application made (a ZIP of certificates), not an upload: no type or size check."""
    row = await StoredFile.insert(StoredFile(
        name=safe_name(name), content_type=content_type, size=len(content),
        sha256=hashlib.sha256(content).hexdigest(), data=content, created_by=user_id,
    )).returning(StoredFile.id)
    return row[0]["id"]


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


async def read(file_id: int, first: int, length: int) -> bytes:
    """Only the bytes asked for, cut by the database (substring on bytea / substr on a blob)."""
    function = "substr" if db.is_sqlite() else "substring"
    rows = await StoredFile.raw(f"SELECT {function}(data, {{}}, {{}}) AS part FROM stored_file WHERE id = {{}}",
                                first + 1, length, file_id)
    return bytes(rows[0]["part"]) if rows else b""


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
