"""Bulk inserts for large set-based work (imports): COPY on PostgreSQL, executemany on SQLite.

Piccolo builds a Table object and a bound parameter per value, which the 10,000-row import
benchmark (bench/import_10k.py) showed to cost more than half of the import. This writes plain
tuples instead, inside the current Piccolo transaction when there is one. It returns nothing:
callers select the ids back by a natural key when they need them.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any


@asynccontextmanager
async def _connection(engine):
    transaction = engine.current_transaction.get()
    if transaction is not None:
        yield transaction.connection
        return
    if engine.engine_type == "postgres":
        if engine.pool is not None:
            async with engine.pool.acquire() as connection:
                yield connection
        else:
            connection = await engine.get_new_connection()
            try:
                yield connection
            finally:
                await connection.close()
    else:
        connection = await engine.get_connection()
        try:
            yield connection
            await connection.commit()
        finally:
            await connection.close()


async def bulk_insert(table, columns: list, rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``, Piccolo columns) into ``table``."""
    if not rows:
        return
    names = [c._meta.db_column_name for c in columns]
    engine = table._meta.db
    async with _connection(engine) as connection:
        if engine.engine_type == "postgres":
            await connection.copy_records_to_table(table._meta.tablename, records=rows, columns=names)
        else:
            placeholders = ", ".join("?" for _ in names)
            quoted = ", ".join(f'"{n}"' for n in names)
            await connection.executemany(
                f'INSERT INTO "{table._meta.tablename}" ({quoted}) VALUES ({placeholders})', rows
            )


async def bulk_update(table, columns: list, key, rows: list[tuple[Any, ...]]) -> None:
    """``UPDATE table SET columns… WHERE key = …`` for every row (tuples: the new values in the order
    of ``columns``, then the key), as one batched statement (executemany), not a round trip each."""
    if not rows:
        return
    names = [c._meta.db_column_name for c in columns]
    engine = table._meta.db
    postgres = engine.engine_type == "postgres"
    mark = (lambda i: f"${i}") if postgres else (lambda i: "?")
    assignments = ", ".join(f'"{n}" = {mark(i)}' for i, n in enumerate(names, 1))
    sql = (f'UPDATE "{table._meta.tablename}" SET {assignments} '
           f'WHERE "{key._meta.db_column_name}" = {mark(len(names) + 1)}')
    async with _connection(engine) as connection:
        await connection.executemany(sql, rows)
