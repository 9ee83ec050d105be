"""PostgreSQL: every page of the users list reads only what it shows at 100,000 users (issue 8,
bench/users_table.py).

- The folded columns (``last_name_key``, ``first_name_key``, ``search_text``) and ``email`` compare
  in the "C" collation, as SQLite's do: they hold lower-case accent-free text made for sorting and
  searching, and a search of one or two characters ("begins with", app/services/text.py
  ``search``) is then a range of their b-trees, the sort's included, whatever the database's
  default collation. (A later migration that alters these columns' type must keep COLLATE "C".)
- b-trees for the prefix search on first names and on ``search_text`` (the last-name and e-mail ones
  exist), and for the sorts on status and account state (ties broken by id in the sort's
  direction, app/datatable.py).

SQLite needs none of this (its comparisons are already bytewise; the embedded mode's lists are small).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T14:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Users: C collation on the folded columns, prefix-search and sort indexes (PostgreSQL)"

STATEMENTS = [
    'ALTER TABLE app_user ALTER COLUMN last_name_key TYPE varchar(100) COLLATE "C", '
    'ALTER COLUMN first_name_key TYPE varchar(100) COLLATE "C", ALTER COLUMN search_text TYPE text COLLATE "C", '
    'ALTER COLUMN email TYPE varchar(254) COLLATE "C"',
    "CREATE INDEX IF NOT EXISTS app_user_first_name_key_prefix ON app_user (first_name_key)",
    "CREATE INDEX IF NOT EXISTS app_user_search_text_prefix ON app_user (search_text)",
    "CREATE INDEX IF NOT EXISTS app_user_status_sort ON app_user (status, id)",
    "CREATE INDEX IF NOT EXISTS app_user_suspended_sort ON app_user (is_suspended, id)",
    "ANALYZE app_user",
]
BACKWARDS = [
    "DROP INDEX IF EXISTS app_user_first_name_key_prefix",
    "DROP INDEX IF EXISTS app_user_search_text_prefix",
    "DROP INDEX IF EXISTS app_user_status_sort",
    "DROP INDEX IF EXISTS app_user_suspended_sort",
    'ALTER TABLE app_user ALTER COLUMN last_name_key TYPE varchar(100) COLLATE "default", '
    'ALTER COLUMN first_name_key TYPE varchar(100) COLLATE "default", '
    'ALTER COLUMN search_text TYPE text COLLATE "default", ALTER COLUMN email TYPE varchar(254) COLLATE "default"',
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
