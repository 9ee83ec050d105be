"""The one table helper: filters from the query string, sort, pagination, per-page choice and
an Excel export of every filtered row. Every list screen declares a ``DataTable`` and renders it
with the ``data_table`` macro of ``templates/_table.html``.

Scope is applied here, from the caller's ``Scope``, on the column the table names as holding the
establishment: a list can never show, count or export a row outside the caller's establishments.
"""

from __future__ import annotations

import asyncio
import csv
import io
import math
import queue
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlencode

from piccolo.columns.combination import WhereRaw
from piccolo.querystring import QueryString

from app.numbers import to_int
from app.services.roles import CurrentUser
from app.services.scope import Scope, establishment_scope

_TOTAL = QueryString("COUNT(*) OVER ()").as_alias("_total")
PER_PAGE_CHOICES = (20, 50, 100)
EXPORT_CHUNK = 5000
# A list counts its rows up to this many, and a page is reached by skipping at most this many rows
# from its start or from its end: every page costs about the same at 100,000 rows as at 100 (issue
# 8). Beyond, the list says "plus de 1 000" and the user filters, changes the sort or goes to the
# end. (10,000 was measured too: counting up to 10,000 scattered matches reads most of a 100,000-row
# table, 30-50 ms on its own; bench/users_table.py prints both.)
COUNT_CAP = 1_000
# A sort on a referenced table's column (establishment, delegation) walks the referenced rows when
# there are at most this many, this many more at each step (see DataTable._group_walk).
GROUP_WALK_MAX = 5_000
GROUP_WALK_BATCH = 16
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
EXPORT_FORMATS = {"xlsx": "Excel", "csv": "CSV (texte)"}


@dataclass(frozen=True)
class Col:
    key: str
    label: str
    sort: Any = None  # a Piccolo column, when the table can be sorted on it
    export: Callable[[dict], Any] | None = None  # the Excel value; default: row[key]
    exported: bool = True


@dataclass(frozen=True)
class Filter:
    key: str
    label: str
    where: Callable[[str], Any]  # the value as typed -> a Piccolo where clause (or None to ignore)
    kind: str = "text"  # text | select | date
    # The choices of a select: a fixed list, or an async function of the user (e.g. their establishments).
    options: list[tuple[str, str]] | Callable[[CurrentUser], Awaitable[list[tuple[str, str]]]] | None = None


@dataclass
class TableState:
    filters: dict[str, str]
    sort: str
    page: int
    per_page: int

    def query(self, **overrides) -> str:
        params = {k: v for k, v in self.filters.items() if v}
        params.update({"sort": self.sort, "page": self.page, "per_page": self.per_page})
        params.update(overrides)
        return urlencode({k: v for k, v in params.items() if v not in (None, "")})


@dataclass
class TablePage:
    """One page of a list. ``state.page`` counts from the start (1, 2, …) or, when the list has more
    rows than it counts (``total_capped``), from the end (-1 is the last page, -2 the one before)."""

    table: DataTable
    state: TableState
    rows: list[dict]
    total: int  # exact, or COUNT_CAP when total_capped
    filter_options: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    total_capped: bool = False

    @property
    def pages(self) -> int:
        """The pages reachable from the start: all of them when the total is exact."""
        per_page = self.state.per_page
        if self.total_capped:
            return max(1, COUNT_CAP // per_page)
        return max(1, math.ceil(self.total / per_page))

    @property
    def from_end(self) -> bool:
        return self.state.page < 0

    @property
    def first_index(self) -> int:
        return 0 if not self.total else (abs(self.state.page) - 1) * self.state.per_page + 1

    @property
    def last_index(self) -> int:
        if self.total_capped:
            return self.first_index + len(self.rows) - 1
        return min(self.total, self.state.page * self.state.per_page)

    @property
    def is_first(self) -> bool:
        return self.state.page == 1

    @property
    def is_last(self) -> bool:
        if self.total_capped:
            return self.state.page == -1
        return self.state.page >= self.pages

    @property
    def previous_page(self) -> int | None:
        page = self.state.page
        if page > 1:
            return page - 1
        if page < 0 and -page < self.pages:
            return page - 1
        return None

    @property
    def next_page(self) -> int | None:
        page = self.state.page
        if page < 0:
            return page + 1 if page < -1 else None
        return page + 1 if page < self.pages else None

    @property
    def last_page(self) -> int:
        return -1 if self.total_capped else self.pages

    @property
    def beyond_window(self) -> bool:
        """The last page reachable from the start of a list longer than it counts."""
        return self.total_capped and self.state.page == self.pages

    def page_links(self) -> list[int | None]:
        """`1 2 3 … 18`: the first, the last and a window around the current page; None is a gap.
        A list longer than it counts numbers the pages from its start only (the end is "Dernière page")."""
        if self.from_end:
            return []
        pages, current = self.pages, self.state.page
        wanted = {1} | set(range(max(1, current - 2), min(pages, current + 2) + 1))
        if not self.total_capped:
            wanted.add(pages)
        if current <= 4:
            wanted |= set(range(1, min(pages, 10) + 1))
        links: list[int | None] = []
        previous = 0
        for p in sorted(wanted):
            if p - previous > 1:
                links.append(None)
            links.append(p)
            previous = p
        return links

    def sort_link(self, key: str) -> str:
        current = self.state.sort
        new = f"-{key}" if current == key else key
        return self.state.query(sort=new, page=1)

    def sort_mark(self, key: str) -> str:
        if self.state.sort == key:
            return "▲"
        if self.state.sort == f"-{key}":
            return "▼"
        return ""


@dataclass(frozen=True)
class About:
    where: Any = None
    columns: tuple[Col, ...] = ()
    heading: tuple[str, ...] = ()  # lines above the export's table (what it is about, when exported)


@dataclass(frozen=True)
class DataTable:
    name: str
    table: Any  # the Piccolo Table class
    select: tuple  # columns to select, aliases included
    columns: tuple[Col, ...]
    filters: tuple[Filter, ...] = ()
    default_sort: str = "id"
    scope_column: Any = None  # column holding an establishment id; None = not establishment-scoped
    export_filename: str = "export"
    base_where: Callable[[CurrentUser, Scope], Any] | None = None
    # Adds computed fields to a page's (or an export chunk's) rows, with one grouped query.
    enrich: Callable[[list[dict]], Awaitable[list[dict]]] | None = None
    # The exact total comes with the page, ``COUNT(*) OVER ()``: one query per page instead of
    # three. For tables of a bounded size (one session's learners); a list that may reach 100,000
    # rows keeps the bounded count and pages from either end.
    count_in_page: bool = False
    # A table about one object (the progress of one session): from the params (the object's id put
    # there by the screen), the where clause and the extra columns (one per activity). Awaited by the
    # screen and by the export job alike, so a background export is the table the page shows.
    about: Callable[[Mapping[str, str]], Awaitable[About]] | None = None

    # -- parsing ------------------------------------------------------------------------------
    def parse(self, params: Mapping[str, str]) -> TableState:
        filters = {f.key: (params.get(f.key) or "").strip()[:200] for f in self.filters}
        sortable = {c.key for c in self.columns if c.sort is not None}
        sort = params.get("sort") or self.default_sort
        if sort.lstrip("-") not in sortable:
            sort = self.default_sort
        per_page = to_int(params.get("per_page"))
        if per_page not in PER_PAGE_CHOICES:
            per_page = PER_PAGE_CHOICES[0]
        # 1, 2, … from the start; -1 (the last page), -2, … from the end
        page = to_int(params.get("page")) or 1
        return TableState(filters=filters, sort=sort, page=page, per_page=per_page)

    # -- querying -----------------------------------------------------------------------------
    def _where(self, user: CurrentUser, scope: Scope, state: TableState, extra=None) -> list:
        clauses = [] if extra is None else [extra]
        if self.scope_column is not None:
            clause = scope.where(self.scope_column)
            if clause is not None:
                clauses.append(clause)
        if self.base_where is not None:
            clause = self.base_where(user, scope)
            if clause is not None:
                clauses.append(clause)
        for f in self.filters:
            value = state.filters.get(f.key)
            if value:
                clause = f.where(value)
                if clause is not None:
                    clauses.append(clause)
        return clauses

    def _sort_columns(self, state: TableState) -> list:
        """The columns of the list's order. A sort on a column of a referenced table (the
        establishment's code, its delegation's name) goes on with the referencing column and the
        list's default sort (by establishment, then by name), then id: a total order, the same
        whichever way the page is found (``_group_walk`` or ORDER BY)."""
        key = state.sort.lstrip("-")
        column = next(c.sort for c in self.columns if c.key == key)
        columns = [column]
        walk = self._walk(column)
        if walk is not None:
            columns += [walk[0]] + ([walk[1]] if walk[1] is not None else [])
        return columns + [self.table.id]

    def _walk(self, column):
        """(referencing column, column of the default sort on this table or None) when ``column``
        belongs to a table the list's rows reference; None otherwise."""
        chain = column._meta.call_chain
        if not chain:
            return None
        default = next((c.sort for c in self.columns if c.key == self.default_sort.lstrip("-")), None)
        inner = default if default is not None and not default._meta.call_chain and default is not column else None
        return getattr(self.table, chain[0]._meta.name), inner

    def _order(self, query, state: TableState, reverse: bool = False):
        """The list's order, ties broken in the same direction (so one index serves both
        directions); ``reverse`` gives the exact opposite order (the pages counted from the end)."""
        ascending = not state.sort.startswith("-")
        if reverse:
            ascending = not ascending
        for column in self._sort_columns(state):
            query = query.order_by(column, ascending=ascending)
        return query

    async def _group_walk(self, clauses: list, state: TableState, reverse: bool, wanted: int) -> list[int] | None:
        """The first ``wanted`` ids of a list sorted on a referenced table's column, read group by
        group: the referenced rows (establishments) in the sort's order, and for each the matching
        rows through the index on (reference, default sort, id), ``wanted`` at most — instead of
        joining and sorting every row of the list. None when it does not apply (SQLite, a filter
        on a joined column, a large referenced table): the caller sorts with ORDER BY."""
        key = state.sort.lstrip("-")
        column = next(c.sort for c in self.columns if c.key == key)
        walk = self._walk(column)
        if walk is None or self.table._meta.db.engine_type != "postgres":
            return None
        reference, inner = walk
        probe = self.table.select(self.table.id).where(*clauses) if clauses else None
        if probe is not None and any(c._meta.call_chain for c in probe.where_delegate.get_where_columns()):
            return None
        referenced = reference._foreign_key_meta.resolved_references
        path = referenced
        for link in column._meta.call_chain[1:]:
            path = getattr(path, link._meta.name)
        path = getattr(path, column._meta.name)
        ascending = state.sort.startswith("-") == reverse
        groups = await referenced.select(referenced.id).order_by(path, ascending=ascending).order_by(
            referenced.id, ascending=ascending).limit(GROUP_WALK_MAX + 1)
        if len(groups) > GROUP_WALK_MAX:
            return None
        group_ids = [g["id"] for g in groups]
        order = [c for c in (inner, self.table.id) if c is not None]
        names = [c._meta.name for c in order]
        direction = "ASC" if ascending else "DESC"

        async def without_group() -> list[int]:  # rows referencing nothing: last going up, first going down
            query = self.table.select(self.table.id).where(reference.is_null(), *clauses)
            for c in order:
                query = query.order_by(c, ascending=ascending)
            return [r["id"] for r in await query.limit(wanted)]

        ids: list[int] = [] if ascending else await without_group()
        start, batch = 0, GROUP_WALK_BATCH
        while len(ids) < wanted and start < len(group_ids):
            need = wanted - len(ids)
            inner_query = self.table.select(*order).where(
                WhereRaw(f'"{self.table._meta.tablename}"."{reference._meta.db_column_name}" = walk_group.id'), *clauses)
            for c in order:
                inner_query = inner_query.order_by(c, ascending=ascending)
            inner_query = inner_query.limit(need)
            outer_order = ", ".join(f'walked."{n}" {direction}' for n in names)
            rows = await self.table.raw(
                "SELECT walked.id FROM unnest({}::integer[]) WITH ORDINALITY AS walk_group(id, position) "
                f"CROSS JOIN LATERAL ({{}}) AS walked ORDER BY walk_group.position, {outer_order} LIMIT {need}",
                group_ids[start:start + batch], inner_query.querystrings[0],
            )
            ids += [r["id"] for r in rows]
            start += batch
            batch *= 2
        if ascending and len(ids) < wanted:
            ids += await without_group()
        return ids[:wanted]

    async def _bounded_count(self, clauses: list, cap: int) -> int:
        """The number of matching rows, counted up to ``cap + 1`` only (one query)."""
        inner = self.table.select(self.table.id)
        if clauses:
            inner = inner.where(*clauses)
        inner = inner.limit(cap + 1)
        rows = await self.table.raw("SELECT COUNT(*) AS n FROM ({}) AS bounded", inner.querystrings[0])
        return rows[0]["n"]

    async def _page(self, clauses: list, state: TableState) -> tuple[list[dict], int, bool]:
        """The bounded count, the page's ids (from the start or the end), then its rows."""
        counted = await self._bounded_count(clauses, COUNT_CAP)
        capped = counted > COUNT_CAP
        total = min(counted, COUNT_CAP)
        per_page = state.per_page
        if capped:
            reachable = max(1, COUNT_CAP // per_page)
            if state.page > reachable:  # beyond what is counted: the last page, as for a short list
                state.page = -1
            elif state.page < -reachable:
                state.page = -reachable
        else:
            pages = max(1, math.ceil(total / per_page))
            if state.page < 0:
                state.page = max(1, pages + 1 + state.page)
            state.page = min(state.page, pages)
        from_end = state.page < 0
        skip = (abs(state.page) - 1) * per_page
        ids = await self._group_walk(clauses, state, from_end, skip + per_page)
        if ids is not None:
            ids = ids[skip:]
        else:
            ids_query = self.table.select(self.table.id)
            if clauses:
                ids_query = ids_query.where(*clauses)
            ids_query = self._order(ids_query, state, reverse=from_end).limit(per_page).offset(skip)
            ids = [r["id"] for r in await ids_query]
        if from_end:
            ids.reverse()
        rows = []
        if ids:
            position = {row_id: i for i, row_id in enumerate(ids)}
            rows = await self.table.select(*self.select).where(self.table.id.is_in(ids))
            rows.sort(key=lambda r: position[r["id"]])
        return rows, total, capped

    async def _page_with_total(self, clauses: list, state: TableState) -> tuple[list[dict], int]:
        """``count_in_page``: one query, the exact total in it (``COUNT(*) OVER ()``)."""

        def page_query():
            query = self.table.select(*self.select, _TOTAL)
            if clauses:
                query = query.where(*clauses)
            offset = (state.page - 1) * state.per_page
            return self._order(query, state).limit(state.per_page).offset(offset)

        wanted = state.page
        if wanted < 0:
            state.page = 1
        queried = state.page
        rows = await page_query()
        total = rows[0]["_total"] if rows else 0
        if not rows and state.page > 1:  # a page past the end: the last one
            count_query = self.table.count()
            total = await (count_query.where(*clauses) if clauses else count_query)
            wanted = -1
        pages = max(1, math.ceil(total / state.per_page))
        if wanted < 0 and total:
            state.page = max(1, pages + 1 + wanted)
            if state.page != queried:
                rows = await page_query()
        return rows, total

    async def fetch(self, user: CurrentUser, params: Mapping[str, str], extra=None,
                    options: dict[str, list[tuple[str, str]]] | None = None) -> TablePage:
        """One page; ``extra`` is a where clause of the screen (e.g. the rows of one import);
        ``options`` gives the choices of select filters that depend on the screen (its cohorts).

        Three queries whatever the size of the list: the count (bounded by COUNT_CAP), the ids of
        the page (only the table's own columns and those the sort needs, skipping at most
        COUNT_CAP rows from the start or, reversed, from the end), then the page's rows with their
        joined columns (one query for a ``count_in_page`` table); plus one per ``enrich`` and per
        filter with choices."""
        state = self.parse(params)
        scope = await establishment_scope(user)
        clauses = self._where(user, scope, state, extra)
        if self.count_in_page:
            rows, total = await self._page_with_total(clauses, state)
            capped = False
        else:
            rows, total, capped = await self._page(clauses, state)
        if self.enrich is not None:
            rows = await self.enrich(rows)
        filter_options = {}
        for f in self.filters:
            if options and f.key in options:
                filter_options[f.key] = list(options[f.key])
            elif callable(f.options):
                filter_options[f.key] = await f.options(user)
            elif f.options is not None:
                filter_options[f.key] = list(f.options)
        return TablePage(table=self, state=state, rows=rows, total=total, filter_options=filter_options,
                         total_capped=capped)

    async def clauses(self, user: CurrentUser, params: Mapping[str, str], extra=None) -> list:
        """The where clauses of the rows the list shows for ``params`` (scope, base, filters): for an
        action on every matching row (a retry of the filtered failed jobs)."""
        return self._where(user, await establishment_scope(user), self.parse(params), extra)

    async def count(self, user: CurrentUser, params: Mapping[str, str], extra=None) -> int:
        clauses = await self.clauses(user, params, extra)
        query = self.table.count()
        return await (query.where(*clauses) if clauses else query)

    async def iter_rows(self, user: CurrentUser, params: Mapping[str, str], chunk: int = EXPORT_CHUNK, extra=None):
        """Every filtered row in the table's order, a chunk at a time, through one database cursor
        (no OFFSET: a 100,000-row export is one sorted scan)."""
        state = self.parse(params)
        clauses = self._where(user, await establishment_scope(user), state, extra)

        def build():  # Piccolo's query builders change in place: a fresh one per use
            query = self.table.select(*self.select)
            return self._order(query.where(*clauses) if clauses else query, state)

        if self.table._meta.db.engine_type == "sqlite":
            # Piccolo's SQLite cursor cannot bind parameters; the embedded default is small.
            offset = 0
            while rows := await build().limit(chunk).offset(offset):
                yield await self.enrich(rows) if self.enrich is not None else rows
                offset += chunk
            return
        query = build()
        async with await query.batch(batch_size=chunk) as batch:
            async for rows in batch:
                yield await self.enrich(rows) if self.enrich is not None else rows

    # -- export -------------------------------------------------------------------------------
    def export_columns(self, extra_columns: tuple[Col, ...] = ()) -> list[Col]:
        return [c for c in (*self.columns, *extra_columns) if c.exported]

    def export_values(self, row: dict, columns: list[Col] | None = None) -> list:
        columns = self.export_columns() if columns is None else columns
        return [c.export(row) if c.export else row.get(c.key) for c in columns]

    async def export(self, user: CurrentUser, params: Mapping[str, str], fmt: str = "xlsx", on_progress=None,
                     extra=None, extra_columns: tuple[Col, ...] = (), heading: tuple[str, ...] = ()) -> bytes:
        """The Excel (``xlsx``) or text (``csv``) file of every filtered row, streamed: the next
        chunk is read from the database while the previous one is written, and at most two chunks
        are in memory. ``extra_columns`` follow the table's own (one per activity of a session);
        ``heading``: lines written above the table (About.heading)."""
        columns = self.export_columns(extra_columns)
        headers = [c.label for c in columns]
        writer = CsvWriter(headers, heading) if fmt == "csv" else XlsxWriter(headers, heading=heading)
        # export_values, column by column, decided once for the whole export
        exporters = [c.export or (lambda r, key=c.key: r.get(key)) for c in columns]
        pending: asyncio.Task | None = None
        done = 0
        try:
            async for rows in self.iter_rows(user, params, extra=extra):
                values = [[get(r) for get in exporters] for r in rows]
                if pending is not None:
                    await pending
                pending = asyncio.create_task(asyncio.to_thread(writer.write_rows, values))
                done += len(values)
                if on_progress:
                    await on_progress(done)
            if pending is not None:
                await pending
            return await asyncio.to_thread(writer.close)
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
            writer.discard()

    async def export_xlsx(self, user: CurrentUser, params: Mapping[str, str], on_progress=None, extra=None) -> bytes:
        return await self.export(user, params, "xlsx", on_progress=on_progress, extra=extra)


def neutralise(value: Any) -> Any:
    """A spreadsheet must never run what a user typed: '=cmd|…' becomes the text "'=cmd|…"."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


_AS_IS = (bool, int, float, datetime)


def _cell(value: Any) -> Any:
    """A value as the Excel writer takes it: text neutralised, a date as a date-time at midnight
    (its column gets a date format), nothing for an empty value."""
    kind = type(value)
    if kind is str:  # most cells: checked first
        if not value:
            return None
        return "'" + value if value.startswith(FORMULA_PREFIXES) else value
    if value is None or kind in _AS_IS:
        return value
    if isinstance(value, str):
        return neutralise(value) or None
    if isinstance(value, (bool, int, float, datetime)):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    return neutralise(str(value))


_DONE = object()


class XlsxWriter:
    """The Excel file of a list, written by rustpy-xlsxwriter (Rust) in constant memory.

    Measured against xlsxwriter (constant_memory, ~10 µs a cell in Python) and polars'
    write_excel (xlsxwriter again, the whole frame in memory) in bench/export_users.py. Once a sheet
    passes STREAM_AFTER rows, the Rust writer runs in a thread of its own and reads the rows from a
    generator that ``write_rows`` feeds a chunk at a time through a queue of two chunks: a large
    export streams. A workbook of several sheets (``add_sheet``) is for small tables: its sheets
    are written at ``close``. Every text is written as a text cell, never as a formula, a number or
    a link, and is neutralised as well, so a copy-paste into another sheet stays inert. Dates and
    date-times are real Excel dates.
    """

    STREAM_AFTER = 2 * EXPORT_CHUNK

    def __init__(self, headers: list[str], sheet: str = "Export", heading: tuple[str, ...] = ()):
        self._sheets: list[tuple[str, list[str], list]] = []  # name, headers, rows not yet handed over
        self._heading = [neutralise(line) for line in heading]  # the first sheet's lines above its table
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._buffer = io.BytesIO()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.add_sheet(sheet, headers)

    @property
    def headers(self) -> list[str]:
        return self._sheets[-1][1]

    def add_sheet(self, name: str, headers: list[str]) -> None:
        """Start another sheet (a workbook of several small tables)."""
        if self._thread is not None:
            raise RuntimeError("A workbook of several sheets is written at close: add them before a large one.")
        self._sheets.append((name[:31], [neutralise(h) for h in headers], []))

    @staticmethod
    def _records(headers: list[str], rows):
        for values in rows:
            yield {h: _cell(v) for h, v in zip(headers, values)}

    def _streamed(self, headers: list[str], pending: list):
        yield from self._records(headers, pending)
        pending.clear()
        while (chunk := self._queue.get()) is not _DONE:
            yield from self._records(headers, chunk)

    def _start(self) -> None:
        import rustpy_xlsxwriter

        day = rustpy_xlsxwriter.Format().set_num_format("dd/mm/yyyy")
        # Heading lines (each merged across the table), an empty row, then the table's header.
        header_row = len(self._heading) + 1 if self._heading else 0
        book = (rustpy_xlsxwriter.FastExcel(self._buffer)
                .format(datetime_format="dd/mm/yyyy hh:mm", bold_headers=True)
                .freeze(row=header_row + 1))
        last = len(self._sheets) - 1
        for index, (name, headers, pending) in enumerate(self._sheets):
            # A column whose values are dates (not date-times) shows them without a time.
            formats = []
            for col in range(len(headers)):
                sample = next((r[col] for r in pending if r[col] not in (None, "")), None)
                formats.append(day if isinstance(sample, date) and not isinstance(sample, datetime) else None)
            data = self._streamed(headers, pending) if index == last else self._records(headers, pending)
            banner = {}
            if index == 0 and self._heading:
                bold = rustpy_xlsxwriter.Format().set_bold()
                wide = max(len(headers) - 1, 0)
                banner = {"header_row": header_row, "merge_ranges": [
                    (row, 0, row, wide, line, bold if row == 0 else None) for row, line in enumerate(self._heading)]}
            book = book.sheet(name, data, column_widths=[max(12, min(40, len(h) + 4)) for h in headers],
                              column_formats=formats, autofilter=True, **banner)

        def write() -> None:
            try:
                book.save()
            except BaseException as exc:  # handed to the caller by write_rows / close
                self._error = exc
                while self._queue.get() is not _DONE:  # let a blocked producer finish
                    pass

        self._thread = threading.Thread(target=write, name="xlsx-writer", daemon=True)
        self._thread.start()

    def _put(self, item) -> None:
        while True:
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                if self._thread is None or not self._thread.is_alive():
                    raise RuntimeError("L'écriture du fichier Excel s'est arrêtée.") from self._error

    def write_rows(self, rows: list[list[Any]]) -> None:
        """Blocks while the writer is two chunks behind (run it in a thread)."""
        if self._error is not None:
            raise self._error
        if self._thread is not None:
            self._put(rows)
            return
        pending = self._sheets[-1][2]
        pending.extend(rows)
        if len(self._sheets) == 1 and len(pending) >= self.STREAM_AFTER:
            self._start()

    def close(self) -> bytes:
        if self._thread is None:
            self._start()
        self._put(_DONE)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._buffer.getvalue()

    def discard(self) -> None:
        """After a failure or a cancellation: end the writer's thread."""
        if self._thread is not None and self._thread.is_alive():
            threading.Thread(target=self._put, args=(_DONE,), daemon=True).start()


class CsvWriter:
    """The text export: UTF-8 with a BOM and ";" between fields, as French spreadsheets open it;
    dates as dd/mm/yyyy hh:mm; every string neutralised like the Excel cells."""

    def __init__(self, headers: list[str], heading: tuple[str, ...] = ()):
        self._buffer = io.StringIO()
        self._buffer.write("\ufeff")
        self._csv = csv.writer(self._buffer, delimiter=";", lineterminator="\r\n")
        if heading:  # what the file is about, one line each, then an empty line
            self._csv.writerows([[neutralise(line)] for line in heading] + [[]])
        self._csv.writerow([neutralise(h) for h in headers])

    def write_rows(self, rows: list[list[Any]]) -> None:
        cell = self._cell
        self._csv.writerows([[cell(v) for v in values] for values in rows])

    @staticmethod
    def _cell(value: Any) -> Any:
        kind = type(value)  # the common kinds by identity first: 180,000 cells for a large session
        if value is None:
            return ""
        if kind is str:
            return "'" + value if value.startswith(FORMULA_PREFIXES) else value
        if kind is int:
            return value
        if kind is float:  # French spreadsheets read "3,5" as a number, "3.5" as text or thousands
            return str(value).replace(".", ",")
        if kind is bool:
            return "Oui" if value else "Non"
        if isinstance(value, datetime):
            return value.strftime("%d/%m/%Y %H:%M")
        if isinstance(value, (bool, int, float)):
            return "Oui" if value is True else "Non" if value is False else str(value).replace(".", ",")
        return neutralise(str(value))

    def close(self) -> bytes:
        return self._buffer.getvalue().encode("utf-8")

    def discard(self) -> None:
        self._buffer = io.StringIO()
