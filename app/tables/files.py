"""Files kept by the application: uploads (activity documents, videos) and what it makes (a job's
result, a signed attendance sheet), stored in PostgreSQL.

Why in the database rather than a directory: every app host already reaches PostgreSQL, so any of
them serves any file with no shared filesystem to mount, and the files are in the same backup (and
the same transaction) as the activities that point to them. Uploads are capped (FILE_MAX_BYTES); a
video larger than that is given as a link.

The bytes are in ``stored_file_chunk``, cut in pieces of ``CHUNK_BYTES``: a ZIP of 20,000
certificates weighs a gigabyte, and one bytea value is read, sent and held whole by the driver.
Written piece by piece from a job's scratch file and read piece by piece for a download, a file of
any size costs a process one piece of memory (app/services/files.py).
"""

from piccolo.columns import BigInt, Bytea, ForeignKey, Integer, OnDelete, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from app.tables.accounts import User

CHUNK_BYTES = 1024 * 1024  # one row of stored_file_chunk: a fraction of a large file, a small file whole


class StoredFile(Table):
    name = Varchar(length=255)  # the uploaded file's name, shown and used for the download
    content_type = Varchar(length=100)  # from the magic bytes, never from the browser
    size = BigInt()
    sha256 = Varchar(length=64)
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


class StoredFileChunk(Table):
    """The bytes ``seq * CHUNK_BYTES`` to ``(seq + 1) * CHUNK_BYTES - 1`` of a stored file; deleted
    with it."""

    file = ForeignKey(references=StoredFile, on_delete=OnDelete.cascade)
    seq = Integer()
    data = Bytea()

    stored_file_chunk_unique = Unique(["file", "seq"])
