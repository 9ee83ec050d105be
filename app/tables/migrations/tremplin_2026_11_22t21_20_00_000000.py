"""PostgreSQL indexes for 'Gérer mes utilisateurs' at 100,000 users (bench/users_table.py):
trigram indexes for the accent-free substring filters, and b-trees for the sorts."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T21:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "User search and sort indexes (PostgreSQL)"

STATEMENTS = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS app_user_last_name_key_trgm ON app_user USING gin (last_name_key gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS app_user_first_name_key_trgm ON app_user USING gin (first_name_key gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS app_user_email_trgm ON app_user USING gin (email gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS app_user_search_text_trgm ON app_user USING gin (search_text gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS app_user_name_sort ON app_user (last_name_key, id)",
    "CREATE INDEX IF NOT EXISTS app_user_establishment_name_sort ON app_user (establishment, last_name_key, id)",
    "CREATE INDEX IF NOT EXISTS app_user_last_access_sort ON app_user (last_access, id)",
    "CREATE INDEX IF NOT EXISTS app_user_suspended ON app_user (last_name_key, id) WHERE is_suspended",
]
BACKWARDS = [
    "DROP INDEX IF EXISTS app_user_last_name_key_trgm",
    "DROP INDEX IF EXISTS app_user_first_name_key_trgm",
    "DROP INDEX IF EXISTS app_user_email_trgm",
    "DROP INDEX IF EXISTS app_user_search_text_trgm",
    "DROP INDEX IF EXISTS app_user_name_sort",
    "DROP INDEX IF EXISTS app_user_establishment_name_sort",
    "DROP INDEX IF EXISTS app_user_last_access_sort",
    "DROP INDEX IF EXISTS app_user_suspended",
]


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
