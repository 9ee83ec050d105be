"""The SHA-256 of an import batch's file (issue 24): two uploads of the same file by the same person
at once (a double click, two tabs) make one batch, the second request is sent to the first's page.

SQLite adds the column itself (app/db.py, ``_add_missing_columns``).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T09:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Import batches: the digest of their file"

STATEMENTS = ['ALTER TABLE "import_batch" ADD COLUMN IF NOT EXISTS "file_sha256" VARCHAR(64) NOT NULL DEFAULT \'\'']
BACKWARDS = ['ALTER TABLE "import_batch" DROP COLUMN IF EXISTS "file_sha256"']


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tremplin", description=DESCRIPTION)

    async def run():
        from app.tables.accounts import User

        if User._meta.db.engine_type != "postgres":
            return
        for statement in STATEMENTS:
            await User.raw(statement)

    async def run_backwards():
        from app.tables.accounts import User

        if User._meta.db.engine_type != "postgres":
            return
        for statement in BACKWARDS:
            await User.raw(statement)

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
