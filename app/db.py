"""Database lifecycle: the pool on PostgreSQL, the tables of the embedded SQLite file."""

from __future__ import annotations

import copy
import json
import logging
import sqlite3
import uuid
from contextvars import ContextVar

from piccolo.constraints import Unique
from piccolo.engine.finder import engine_finder

from app.settings import get_settings
from app.tables.accounts import User
from app.tables.files import CHUNK_BYTES, StoredFile
from app.tables.constraints import PARTIAL_UNIQUE_INDEXES
from app.tables.piccolo_app import TABLES
from app.tables.name_keys import SQLITE_BACKFILL as NAME_KEY_BACKFILL
from app.tables.name_keys import SQLITE_TRIGGERS
from app.tables.registration import ADDED_COLUMN_BACKFILLS

log = logging.getLogger(__name__)


def engine():
    return engine_finder()


def is_sqlite() -> bool:
    return engine().engine_type == "sqlite"


def among(column, values) -> object:
    """``column IN (values)`` for a long list of ids (an export chunk's 5,000): one array
    parameter on PostgreSQL (``= ANY``), which plans in a millisecond where 5,000 parameters took
    a third of a second; ``IN (…)`` on SQLite. ``column`` must be a column of the queried table."""
    values = list(values)
    if is_sqlite():
        return column.is_in(values)
    from piccolo.columns.combination import WhereRaw

    return WhereRaw(f"{column._meta.get_full_name(with_alias=False)} = ANY({{}})", values)


def array_has(column, value: str) -> object:
    """``value`` is an element of the array ``column``: ``= ANY`` on PostgreSQL; on SQLite, where
    Piccolo stores an array as JSON text, the quoted element (Piccolo's own ``any`` there is a bare
    LIKE, which finds "update" in "update_password")."""
    if is_sqlite():
        return column.like(f"%{json.dumps(value)}%")
    return column.any(value)


async def open_pool() -> bool:
    """Open the PostgreSQL pool unless one is open; True when this call opened it."""
    if is_sqlite() or getattr(engine(), "pool", None) is not None:
        return False
    database = get_settings().database
    # Behind PgBouncer, asyncpg's reset at each release (RESET ALL, UNLISTEN *…) made a query four
    # server transactions instead of two, on a server connection the next transaction may not get:
    # there is no session to reset. asyncpg still rolls back a transaction left open.
    reset = {"reset": _nothing_to_reset} if database.pgbouncer else {}
    await engine().start_connection_pool(min_size=min(database.pool_min, database.pool_max),
                                         max_size=database.pool_max, **reset)
    return True


async def _nothing_to_reset(connection) -> None:
    return None


async def close_pool() -> None:
    if not is_sqlite():
        await engine().close_connection_pool()


async def batches(query, size: int):
    """The rows of a Piccolo select, ``size`` at a time, through one server-side cursor (PostgreSQL;
    no OFFSET: a 100,000-row export is one sorted scan). The cursor is declared in SQL inside a
    transaction on one pooled connection, and whatever the caller queries between two batches (a
    list's enrich) runs in that same transaction: one connection per export, within DB_POOL_MAX,
    where a second one could wait forever on a pool (or a PgBouncer) that the cursors hold.
    Piccolo's own ``batch()`` is not used: it opens a connection beside the pool and asyncpg's
    cursor is a *named* prepared statement, which a PgBouncer in transaction mode leaves on the
    server connection: the next process to number a statement alike failed there with « prepared
    statement "__asyncpg_stmt_1__" already exists »."""
    template, args = query.querystrings[0].compile_string()
    cursor = f"batch_rows_{uuid.uuid4().hex}"  # unique: the caller's transaction may hold another
    async with engine().transaction() as transaction:
        connection = transaction.connection
        await connection.execute(f"DECLARE {cursor} NO SCROLL CURSOR FOR {template}", *args)
        plain = _plain_select(query)
        while rows := await connection.fetch(f"FETCH FORWARD {int(size)} FROM {cursor}"):
            if plain:  # Piccolo's dicts, made a third cheaper: the keys once a batch, not a row
                keys = tuple(rows[0].keys())
                yield [dict(zip(keys, row)) for row in rows]
            else:
                yield await query._process_results(rows)
        await connection.execute(f"CLOSE {cursor}")


def _plain_select(query) -> bool:
    """A select whose rows Piccolo gives back as the records' own dicts (no JSON to load, no nested
    or object output, no many-to-many column, no raw-response hook)."""
    from piccolo.columns.m2m import M2MSelect

    output = getattr(query, "output_delegate", None)
    columns = getattr(query, "columns_delegate", None)
    if output is None or columns is None or hasattr(query, "_raw_response_callback"):
        return False
    try:
        options = output._output
        return not (options.load_json or options.as_objects or options.nested or options.as_list
                    or options.as_json) and not any(isinstance(c, M2MSelect) for c in columns.selected_columns)
    except AttributeError:  # another Piccolo's internals: its own processing
        return False


async def create_sqlite_tables() -> None:
    """The embedded default creates its tables from their declarations, with Piccolo's own DDL
    (Piccolo's SQLite migrations cannot ALTER); PostgreSQL always goes through the migrations
    (`tremplin migrate`). On a database made by an older version, the missing columns are added
    before any index is made (an index names its columns)."""
    for table in TABLES:
        create, *indexes = _piccolo_sqlite_ddl(table)
        await table.raw(create)
        await _set_retyped_columns_aside(table)
        await _add_missing_columns(table)
        for statement in indexes:
            await table.raw(statement)
    for index in REPLACED_UNIQUE_INDEXES:  # an older embedded database's
        await TABLES[0].raw(f"DROP INDEX IF EXISTS {index}")
    for table in TABLES:
        for statement in _unique_indexes(table):
            await _create_unique_index(statement)
    for statement in PARTIAL_UNIQUE_INDEXES:
        await _create_unique_index(statement)
    await _move_legacy_file_data()
    for statement in SQLITE_TRIGGERS:  # the enrolments' name sort key (app/tables/name_keys.py)
        await TABLES[0].raw(statement)


def _piccolo_sqlite_ddl(table) -> list[str]:
    """Piccolo's CREATE TABLE IF NOT EXISTS and CREATE INDEX IF NOT EXISTS statements of ``table``,
    without its constraint statements: Piccolo adds a declared constraint with ALTER TABLE … ADD
    CONSTRAINT, which SQLite does not have (see ``_unique_indexes``)."""
    return [s for s in table.create_table(if_not_exists=True).ddl if not s.startswith("ALTER TABLE ")]


def _unique_indexes(table) -> list[str]:
    """A declared ``Unique`` becomes on SQLite a unique index of its name and columns: the same rows
    refused, the same ON CONFLICT targets, the same name in the errors."""
    statements = []
    for constraint in table._meta.constraints:
        if not isinstance(constraint, Unique):
            raise NotImplementedError(f"{table.__name__}.{constraint._meta.name}: only Unique is created on SQLite")
        columns = ", ".join(f'"{name}"' for name in constraint.get_column_names())
        statements.append(f"CREATE UNIQUE INDEX IF NOT EXISTS {constraint._meta.name} "
                          f"ON {table._meta.get_formatted_tablename()} ({columns})")
    return statements


# An embedded database made before 2026-12-07T06:00 kept each file whole in stored_file.data: its
# bytes move to stored_file_chunk, cut in pieces of CHUNK_BYTES (the PostgreSQL migration does the
# same), and the column goes (SQLite 3.35+ drops a column).
LEGACY_FILE_DATA = [
    "INSERT INTO stored_file_chunk (file, seq, data) "
    "WITH RECURSIVE piece(file, seq) AS (SELECT id, 0 FROM stored_file WHERE length(data) > 0 "
    "UNION ALL SELECT p.file, p.seq + 1 FROM piece p JOIN stored_file f ON f.id = p.file "
    "WHERE (p.seq + 1) * {size} < length(f.data)) "
    "SELECT p.file, p.seq, substr(f.data, p.seq * {size} + 1, {size}) FROM piece p JOIN stored_file f ON f.id = p.file",
    'ALTER TABLE "stored_file" DROP COLUMN "data"',
]


async def _move_legacy_file_data() -> None:
    columns = {r["name"] for r in await StoredFile.raw('PRAGMA table_info("stored_file")')}
    if "data" in columns:
        async with transaction():
            for statement in LEGACY_FILE_DATA:
                await StoredFile.raw(statement.format(size=CHUNK_BYTES))


# Unique indexes a newer one replaced (issue 22: a certificate's kind joined its uniqueness).
REPLACED_UNIQUE_INDEXES = ["certificate_one_valid", "unique_enrolment_version"]


async def _create_unique_index(statement: str) -> None:
    try:
        await TABLES[0].raw(statement)
    except sqlite3.IntegrityError as error:  # an older var/ whose rows break a newer index
        log.warning("Could not create %s on the SQLite database: %s (fix the duplicates, or delete var/ "
                    "to start over)", statement, error)


# Columns whose type changed since an older embedded database was made -> their declared type now.
# SQLite cannot change a column's type: the old column is renamed ``<name>_old``, the new one is then
# missing and added, and its back-fill (ADDED_COLUMN_BACKFILLS) converts the values and drops the old.
RETYPED_COLUMNS = {("import_row", "allowed"): "ARRAY"}  # comma-separated text before 2026-12-06T21:00


async def _set_retyped_columns_aside(table) -> None:
    declared = {r["name"]: r["type"] for r in await table.raw(f'PRAGMA table_info("{table._meta.tablename}")')}
    for (tablename, column), kind in RETYPED_COLUMNS.items():
        if tablename == table._meta.tablename and declared.get(column, kind).upper() != kind:
            await table.raw(f'ALTER TABLE "{tablename}" RENAME COLUMN "{column}" TO "{column}_old"')


BACKFILLS = {**ADDED_COLUMN_BACKFILLS, ("enrolment", "name_key"): NAME_KEY_BACKFILL}


async def _add_missing_columns(table) -> None:
    """An embedded database made by an older version gets the columns added since (SQLite can ADD
    COLUMN, not much else): `tremplin dev` keeps working on an existing var/ after an upgrade. Some
    columns come with a back-fill of their rows (ADDED_COLUMN_BACKFILLS): data, which PostgreSQL's
    migration that adds the column does too; no SQLite migration exists to hold it."""
    existing = {r["name"] for r in await table.raw(f'PRAGMA table_info("{table._meta.tablename}")')}
    for column in table._meta.columns:
        if column._meta.db_column_name in existing:
            continue
        try:
            await table.raw(f'ALTER TABLE "{table._meta.tablename}" ADD COLUMN {column.ddl}')
            for statement in BACKFILLS.get((table._meta.tablename, column._meta.db_column_name), []):
                await (statement() if callable(statement) else table.raw(statement))
        except Exception as error:  # noqa: BLE001 - say which column, keep starting
            log.warning("Could not add %s.%s to the SQLite database: %s (delete var/ to start over)",
                        table._meta.tablename, column._meta.name, error)


async def is_empty() -> bool:
    return not await User.exists().where(User.id > 0)


# Work to do once the outermost ``transaction()`` / ``write_transaction()`` has committed (enqueueing
# the job a transaction recorded: a worker must never see the job before the rows it is about).
_after_commit: ContextVar[list | None] = ContextVar("after_commit", default=None)


class _Transaction:
    """Piccolo's transaction, plus the callbacks registered by ``after_commit`` while it was open."""

    def __init__(self, inner):
        self.inner = inner
        self.outermost = engine().current_transaction.get() is None
        self.token = None

    async def __aenter__(self):
        if self.outermost:
            self.token = _after_commit.set([])
        return await self.inner.__aenter__()

    async def __aexit__(self, exc_type, exc, tb):
        try:
            result = await self.inner.__aexit__(exc_type, exc, tb)
        finally:
            callbacks = _after_commit.get() if self.outermost else None
            if self.outermost:
                _after_commit.reset(self.token)
        if exc is None and callbacks:
            for callback in callbacks:
                await callback()
        return result


def after_commit(callback) -> bool:
    """Run ``callback`` (an async function without arguments) once the current transaction has
    committed; True if it will. False when no transaction is open (the caller runs it itself) or
    when the open one was not started by ``transaction()``/``write_transaction()`` (then nobody
    runs it: the job sweep catches up)."""
    if engine().current_transaction.get() is None:
        return False
    callbacks = _after_commit.get()
    if callbacks is None:
        return False
    callbacks.append(callback)
    return True


def in_transaction() -> bool:
    return engine().current_transaction.get() is not None


def transaction():
    return _Transaction(engine().transaction())


async def plan_once() -> None:
    """Inside a transaction about to write thousands of rows with foreign keys (an import): the
    checks of those keys (a query per row and key, which PostgreSQL runs itself) are planned once,
    not once per row. The pool asks for a custom plan every time (``plan_cache_mode =
    force_custom_plan``, piccolo_conf.py: the list filters' LIKE patterns), and that holds for the
    foreign-key checks too: planned each time, they made the roles of 20,000 imported accounts five
    times dearer than their insert (bench/import_10k.py). For this transaction only (``SET LOCAL``: fine behind
    PgBouncer in transaction mode). Nothing to do on SQLite."""
    if not is_sqlite():
        await User.raw("SET LOCAL plan_cache_mode = auto")


async def lock_name(name: str) -> None:
    """Inside a transaction: wait for, then hold until its end, the lock of ``name`` (an e-mail
    address about to get an account), so two transactions that read then write on the same name run
    one after the other. PostgreSQL: a transaction-level advisory lock; SQLite: nothing more is
    needed in a ``write_transaction`` (BEGIN IMMEDIATE already runs them one after the other)."""
    if not is_sqlite():
        await User.raw("SELECT pg_advisory_xact_lock(hashtext({}))", name)


def write_transaction():
    """A transaction that reads then writes on what it read: on SQLite it takes the write lock at
    its first statement (BEGIN IMMEDIATE), so two of them run one after the other; on PostgreSQL
    the caller locks the rows it reads (SELECT … FOR UPDATE)."""
    if is_sqlite():
        from piccolo.engine.sqlite import TransactionType

        return _Transaction(engine().transaction(transaction_type=TransactionType.immediate))
    return _Transaction(engine().transaction())


class _Value:
    """Stands for the ``index``-th value of a ``reused`` query while its SQL is built."""

    def __init__(self, index: int):
        self.index = index


def reused(build):
    """``build(*values)`` makes a Piccolo query (a select, ``.first()``, a count…); the function
    returned runs it with new values, its SQL built once per engine type and kept. Piccolo spends
    1.6 ms of CPU building a select of a wide table's every column with a join (the wizard's draft,
    read on every page of the public registration): more than PostgreSQL takes to answer it. The
    values go to the database as parameters, as Piccolo's own would; ``build`` must use them in
    comparisons only (Piccolo writes a LIMIT into the SQL text: not there), and the query's shape must
    not depend on them — a value that does not reach the database as a parameter is refused."""
    from piccolo.query.methods.select import First
    from piccolo.querystring import QueryString

    built: dict[str, tuple] = {}

    async def run(*values):
        engine_type = engine().engine_type
        entry = built.get(engine_type)
        if entry is None:
            template = build(*[_Value(i) for i in range(len(values))])
            query = template.query if isinstance(template, First) else template
            compiled = [qs.compile_string(engine_type=engine_type) for qs in query.querystrings]
            used = {a.index for _, args in compiled for a in args if isinstance(a, _Value)}
            if used != set(range(len(values))):
                raise ValueError(f"reused query: values {sorted(set(range(len(values))) - used)} not passed as "
                                 "parameters")
            entry = built[engine_type] = (template, compiled)
        template, compiled = entry
        querystrings = []
        for sql, args in compiled:
            querystring = QueryString("")
            querystring._frozen_compiled_strings = (
                sql, [values[a.index] if isinstance(a, _Value) else a for a in args])
            querystrings.append(querystring)
        original = template.query if isinstance(template, First) else template
        query = copy.copy(original)
        query._frozen_querystrings = querystrings
        return await (First(query) if isinstance(template, First) else query).run()

    return run
