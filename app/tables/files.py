"""Uploaded files (activity documents, videos), stored in PostgreSQL.

Why in the database rather than a directory: every app host already reaches PostgreSQL, so any of
them serves any file with no shared filesystem to mount, and the files are in the same backup (and
the same transaction) as the activities that point to them. Files are capped (FILE_MAX_BYTES) so
the table stays reasonable; a video larger than that is given as a link.
"""

from piccolo.columns import BigInt, Bytea, ForeignKey, OnDelete, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.tables.accounts import User


class StoredFile(Table):
    name = Varchar(length=255)  # the uploaded file's name, shown and used for the download
    content_type = Varchar(length=100)  # from the magic bytes, never from the browser
    size = BigInt()
    sha256 = Varchar(length=64)
    data = Bytea()
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
