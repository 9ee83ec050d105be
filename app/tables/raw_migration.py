"""The one wrapper of a hand-written migration: lists of raw SQL statements run in order, forwards and
backwards. A migration module then reads::

    ID = "2026-12-07T09:30:00:000000"
    VERSION = "1.38.0"
    DESCRIPTION = "…"
    FORWARDS = [...]
    BACKWARDS = [...]
    forwards = raw_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)

Migrations run on PostgreSQL only (the embedded SQLite database is created from the tables)."""

from __future__ import annotations

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder


def raw_migration(migration_id: str, description: str, forwards: list[str], backwards: list[str]):
    async def run(statements: list[str]) -> None:
        engine = engine_finder()
        for statement in statements:
            await engine.run_ddl(statement)

    async def build() -> MigrationManager:
        manager = MigrationManager(migration_id=migration_id, app_name="tremplin", description=description)

        async def run_forwards():
            await run(forwards)

        async def run_backwards():
            await run(backwards)

        manager.add_raw(run_forwards)
        manager.add_raw_backwards(run_backwards)
        return manager

    return build
