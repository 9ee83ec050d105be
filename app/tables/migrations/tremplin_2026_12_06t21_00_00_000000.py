"""``import_row.allowed`` becomes an array of the decisions a row offers (it was their names joined
with commas). Raw SQL: Piccolo's column change would cast the text to an array, which 'create,skip'
is not; ``string_to_array`` splits it."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-06T21:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "import_row.allowed: an array of decisions instead of comma-separated text"

TO_ARRAY = [
    "ALTER TABLE import_row ALTER COLUMN allowed DROP DEFAULT",
    "ALTER TABLE import_row ALTER COLUMN allowed TYPE VARCHAR(16)[] USING string_to_array(allowed, ',')",
    "ALTER TABLE import_row ALTER COLUMN allowed SET DEFAULT ARRAY['create', 'skip']::VARCHAR(16)[]",
]
TO_TEXT = [
    "ALTER TABLE import_row ALTER COLUMN allowed DROP DEFAULT",
    "ALTER TABLE import_row ALTER COLUMN allowed TYPE VARCHAR(64) USING array_to_string(allowed, ',')",
    "ALTER TABLE import_row ALTER COLUMN allowed SET DEFAULT 'create,skip'",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tremplin", description=DESCRIPTION)

    async def run():
        from app.tables.imports import ImportRow

        for statement in TO_ARRAY:
            await ImportRow.raw(statement)

    async def run_backwards():
        from app.tables.imports import ImportRow

        for statement in TO_TEXT:
            await ImportRow.raw(statement)

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
