"""One schema, two ways to build it: the embedded SQLite database gets its tables from the table
declarations (``app.db.create_sqlite_tables``), PostgreSQL from the hand-written migrations. Both
must say the same tables, columns, types, nullability and unique constraints — single-column,
composite (declared ``Unique``) and partial (``app/tables/constraints.py``) — or a migration forgot
something the tables declare (or the reverse)."""

import os
import sqlite3
import subprocess
import sys
import uuid

import asyncpg
import pytest

from tests.conftest import BACKEND, ROOT, TMP
from tests.migrations.scratch import migrate, scratch_database

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="migrations run on PostgreSQL")

# Piccolo's own bookkeeping, on PostgreSQL only.
NOT_APP_TABLES = {"migration"}
PG_TYPES = {
    "integer": "integer", "bigint": "integer", "smallint": "integer", "text": "text", "boolean": "boolean",
    "timestamp with time zone": "timestamptz", "date": "date", "time without time zone": "time",
    "bytea": "bytes", "json": "json", "jsonb": "json", "double precision": "float",
}
SQLITE_TYPES = {
    "INTEGER": "integer", "BIGINT": "integer", "TEXT": "text", "BOOLEAN": "boolean", "TIMESTAMPTZ": "timestamptz",
    "DATE": "date", "TIME": "time", "BLOB": "bytes", "BYTEA": "bytes", "JSON": "json", "JSONB": "json",
    "DOUBLE PRECISION": "float",
}


def _run(*args: str, env: dict) -> None:
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"


def sqlite_schema(path) -> dict:
    """{table: {"columns": {name: (type, nullable)}, "uniques": {…}}} of a SQLite file."""
    conn = sqlite3.connect(path)
    try:
        schema = {}
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                             "AND name NOT LIKE 'sqlite_%'")]
        for table in tables:
            columns = {}
            for _, name, declared, notnull, _, pk in conn.execute(f'PRAGMA table_info("{table}")'):
                kind = declared.upper()
                kind = kind.lower() if kind.startswith("VARCHAR(") else SQLITE_TYPES.get(kind, kind)
                columns[name] = (kind, not (notnull or pk))
            uniques = set()
            for _, index, unique, origin, partial in conn.execute(f'PRAGMA index_list("{table}")'):
                if not unique or origin == "pk":
                    continue
                names = tuple(r[2] or "<expression>" for r in conn.execute(f'PRAGMA index_info("{index}")'))
                uniques.add(_unique(index if origin == "c" else None, names, bool(partial)))
            schema[table] = {"columns": columns, "uniques": uniques}
        return schema
    finally:
        conn.close()


async def postgres_schema(url: str) -> dict:
    conn = await asyncpg.connect(url)
    try:
        schema = {}
        rows = await conn.fetch(
            "SELECT c.table_name, c.column_name, c.data_type, c.character_maximum_length, c.is_nullable "
            "FROM information_schema.columns c JOIN information_schema.tables t "
            "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
            "WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'")
        for r in rows:
            if r["table_name"] in NOT_APP_TABLES:
                continue
            kind = (f"varchar({r['character_maximum_length']})" if r["data_type"] == "character varying"
                    else PG_TYPES.get(r["data_type"], r["data_type"]))
            table = schema.setdefault(r["table_name"], {"columns": {}, "uniques": set()})
            table["columns"][r["column_name"]] = (kind, r["is_nullable"] == "YES")
        # Unique indexes, whether a constraint made them or CREATE UNIQUE INDEX did; a 0 in indkey
        # is an expression (lower(email)).
        rows = await conn.fetch(
            "SELECT t.relname AS table_name, i.relname AS index_name, x.indpred IS NOT NULL AS partial, "
            "con.contype::text AS contype, ARRAY(SELECT COALESCE(a.attname, '<expression>') FROM unnest(x.indkey) WITH ORDINALITY k(n, o) "
            "LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n ORDER BY k.o) AS columns "
            "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid "
            "WHERE n.nspname = 'public' AND x.indisunique AND NOT x.indisprimary")
        for r in rows:
            if r["table_name"] in NOT_APP_TABLES:
                continue
            columns = tuple(r["columns"])
            # A column's ``unique=True`` is named by each database its own way (app_user_username_key,
            # sqlite_autoindex_app_user_1): compared by its column. Every other unique has the name
            # the code declares (and catches violations by).
            by_column = len(columns) == 1 and r["contype"] == "u" and r["index_name"].endswith("_key")
            schema[r["table_name"]]["uniques"].add(_unique(None if by_column else r["index_name"], columns,
                                                           r["partial"]))
        return schema
    finally:
        await conn.close()


def _unique(name, columns, partial) -> tuple:
    return (name or "(a column's unique)", tuple(sorted(columns)) if name is None else tuple(columns), partial)


def _differences(sqlite: dict, postgres: dict) -> list[str]:
    found = []
    for table in sorted(set(sqlite) | set(postgres)):
        if table not in postgres:
            found.append(f"table {table}: declared, no migration creates it")
            continue
        if table not in sqlite:
            found.append(f"table {table}: made by the migrations, not declared")
            continue
        left, right = sqlite[table]["columns"], postgres[table]["columns"]
        for column in sorted(set(left) | set(right)):
            if column not in right:
                found.append(f"{table}.{column}: declared, no migration adds it")
            elif column not in left:
                found.append(f"{table}.{column}: added by the migrations, not declared")
            elif left[column] != right[column]:
                found.append(f"{table}.{column}: declared (type, nullable) {left[column]}, migrated {right[column]}")
        for unique in sorted(sqlite[table]["uniques"] - postgres[table]["uniques"]):
            found.append(f"{table}: unique {unique} declared, not in the migrations")
        for unique in sorted(postgres[table]["uniques"] - sqlite[table]["uniques"]):
            found.append(f"{table}: unique {unique} in the migrations, not declared")
    return found


async def test_sqlite_tables_and_postgresql_migrations_make_the_same_schema():
    path = TMP / f"parity-{uuid.uuid4().hex[:8]}.sqlite"
    _run("-m", "app.cli", "migrate", env={"DATABASE_URL": f"sqlite:///{path}"})
    async with scratch_database("tremplin_parity") as url:
        migrate(url)
        sqlite, postgres = sqlite_schema(path), await postgres_schema(url)
    # The comparison sees what it compares (an empty read would pass).
    assert len(sqlite) >= 30 and sqlite["cohort"]["uniques"] and sqlite["app_user"]["columns"]["username"]
    differences = _differences(sqlite, postgres)
    assert not differences, "\n".join(differences)
