"""Database lifecycle: the pool on PostgreSQL, the tables of the embedded SQLite file."""

from __future__ import annotations

from piccolo.engine.finder import engine_finder

from app.tables.piccolo_app import TABLES


def engine():
    return engine_finder()


def is_sqlite() -> bool:
    return engine().engine_type == "sqlite"


async def open_pool() -> bool:
    """Open the PostgreSQL pool unless one is open; True when this call opened it."""
    if is_sqlite() or getattr(engine(), "pool", None) is not None:
        return False
    await engine().start_connection_pool(min_size=1, max_size=10)
    return True


async def close_pool() -> None:
    if not is_sqlite():
        await engine().close_connection_pool()


async def create_sqlite_tables() -> None:
    """The embedded default creates its tables directly (Piccolo's SQLite migrations cannot ALTER);
    PostgreSQL always goes through the migrations (`tremplin migrate`)."""
    from app.tables.constraints import UNIQUE_INDEXES

    for table in TABLES:
        await table.create_table(if_not_exists=True)
    for statement in UNIQUE_INDEXES:
        await TABLES[0].raw(statement)


async def is_empty() -> bool:
    from app.tables.accounts import User

    return not await User.exists().where(User.id > 0)


def transaction():
    return engine().transaction()
