"""A stored file's bytes in pieces (issue 24, point 7): ``stored_file_chunk`` (file, seq, data), so
a large job result (a ZIP of a whole session's certificates) is written from the worker's scratch
file and read for its download one piece at a time. The bytes already kept move there, cut in
pieces of 1 MiB by the database itself (no row goes through a process), and ``stored_file.data``
goes. Raw SQL, frozen here; the piece size is app/tables/files.py's CHUNK_BYTES, which the reader
relies on (byte n is in piece n // CHUNK_BYTES): changing it needs a migration that cuts again."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Stored files in chunks"

PIECE = 1024 * 1024

FORWARDS = [
    'CREATE TABLE "stored_file_chunk" ("id" SERIAL PRIMARY KEY NOT NULL, '
    '"file" INTEGER REFERENCES "stored_file" ("id") ON DELETE CASCADE ON UPDATE CASCADE DEFAULT null, '
    '"seq" INTEGER NOT NULL DEFAULT 0, "data" BYTEA NOT NULL DEFAULT \'\')',
    'ALTER TABLE "stored_file_chunk" ADD CONSTRAINT stored_file_chunk_unique UNIQUE ("file", "seq")',
    # An empty file has no piece; the others have ceil(length / PIECE).
    f'INSERT INTO "stored_file_chunk" ("file", "seq", "data") '
    f'SELECT f.id, s.seq, substring(f.data FROM s.seq * {PIECE} + 1 FOR {PIECE}) FROM "stored_file" f '
    f'CROSS JOIN LATERAL generate_series(0, (length(f.data) - 1) / {PIECE}) AS s(seq) WHERE length(f.data) > 0',
    # Emptied before it is dropped: DROP COLUMN leaves the old bytes in the table's TOAST until the
    # rows are rewritten; emptied, they are dead tuples that (auto)vacuum gives back for reuse.
    'UPDATE "stored_file" SET "data" = \'\' WHERE length("data") > 0',
    'ALTER TABLE "stored_file" DROP COLUMN "data"',
]
BACKWARDS = [
    'ALTER TABLE "stored_file" ADD COLUMN "data" BYTEA NOT NULL DEFAULT \'\'',
    'UPDATE "stored_file" f SET "data" = (SELECT string_agg(c.data, \'\' ORDER BY c.seq) FROM "stored_file_chunk" c '
    'WHERE c.file = f.id) WHERE EXISTS (SELECT 1 FROM "stored_file_chunk" c WHERE c.file = f.id)',
    'DROP TABLE "stored_file_chunk"',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tremplin", description=DESCRIPTION)

    async def run():
        from app.tables.files import StoredFile

        for statement in FORWARDS:
            await StoredFile.raw(statement)

    async def run_backwards():
        from app.tables.files import StoredFile

        for statement in BACKWARDS:
            await StoredFile.raw(statement)

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
