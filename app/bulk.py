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


_SERIALS = {"SERIAL": "INTEGER", "BIGSERIAL": "BIGINT"}  # a key's type, as an array's elements


async def bulk_update(table, columns: list, key, rows: list[tuple[Any, ...]]) -> None:
    """``UPDATE table SET columns… WHERE key = …`` for every row (tuples: the new values in the order
    of ``columns``, then the key), as one statement whatever the number of rows: on PostgreSQL an
    ``UPDATE … FROM unnest(<one array per column>)`` (20,000 rows: one pass, where a batched statement
    per row took a second); on SQLite a batched statement (executemany). A key given twice: its
    last row wins, as it would one statement after the other."""
    if not rows:
        return
    names = [c._meta.db_column_name for c in columns]
    key_name = key._meta.db_column_name
    engine = table._meta.db
    tablename = table._meta.tablename
    async with _connection(engine) as connection:
        if engine.engine_type != "postgres":
            assignments = ", ".join(f'"{n}" = ?' for n in names)
            await connection.executemany(f'UPDATE "{tablename}" SET {assignments} WHERE "{key_name}" = ?', rows)
            return
        last = list({row[-1]: row for row in rows}.values())
        arrays = [list(values) for values in zip(*last)]
        types = [_SERIALS.get(c.column_type.upper(), c.column_type) for c in [*columns, key]]
        assignments = ", ".join(f'"{n}" = v."{n}"' for n in names)
        unnest = ", ".join(f"${i}::{t}[]" for i, t in enumerate(types, 1))
        aliases = ", ".join(f'"{n}"' for n in [*names, key_name])
        await connection.execute(
            f'UPDATE "{tablename}" SET {assignments} FROM unnest({unnest}) AS v({aliases}) '
            f'WHERE "{tablename}"."{key_name}" = v."{key_name}"', *arrays)
