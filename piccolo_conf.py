"""Piccolo configuration: the engine comes from the settings (DATABASE_URL)."""

from piccolo.conf.apps import AppRegistry

from app.settings import get_settings


def _engine():
    database = get_settings().database
    if database.is_sqlite:
        from pathlib import Path

        from piccolo.engine.sqlite import SQLiteEngine

        Path(database.sqlite_path).parent.mkdir(parents=True, exist_ok=True)
        return SQLiteEngine(path=database.sqlite_path, timeout=30)
    from piccolo.engine.postgres import PostgresEngine

    # Custom plans for every query: list filters are LIKE patterns whose selectivity a generic
    # (cached) plan cannot know, and bench/users_table.py showed generic plans 3x slower.
    if database.pgbouncer:
        # Behind PgBouncer (transaction mode) asyncpg may not keep named prepared statements: its
        # unnamed ones are planned for their parameters each time, which is what force_custom_plan
        # asks for (and PgBouncer refuses that startup parameter).
        return PostgresEngine(config={"dsn": database.url, "statement_cache_size": 0,
                                      "server_settings": {"application_name": "tremplin"}})
    return PostgresEngine(
        config={
            "dsn": database.url,
            "server_settings": {"plan_cache_mode": "force_custom_plan", "application_name": "tremplin"},
        }
    )


DB = _engine()

APP_REGISTRY = AppRegistry(apps=["app.tables.piccolo_app"])
