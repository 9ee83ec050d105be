"""The SHA-256 of an import batch's file (issue 24): two uploads of the same file by the same person
at once (a double click, two tabs) make one batch, the second request is sent to the first's page.

SQLite adds the column itself (app/db.py, ``_add_missing_columns``).
"""

from app.tables.raw_migration import raw_migration

ID = "2026-12-07T09:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Import batches: the digest of their file"

FORWARDS = ['ALTER TABLE "import_batch" ADD COLUMN IF NOT EXISTS "file_sha256" VARCHAR(64) NOT NULL DEFAULT \'\'']
BACKWARDS = ['ALTER TABLE "import_batch" DROP COLUMN IF EXISTS "file_sha256"']

forwards = raw_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
