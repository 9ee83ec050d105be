"""The one table helper: filters from the query string, sort, pagination, per-page choice and
an Excel export of every filtered row. Every list screen declares a ``DataTable`` and renders it
with the ``data_table`` macro of ``templates/_table.html``.

Scope is applied here, from the caller's ``Scope``, on the column the table names as holding the
establishment: a list can never show, count or export a row outside the caller's establishments.
"""

from __future__ import annotations

import io
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import polars as pl

from app.services.roles import CurrentUser
from app.services.scope import Scope, establishment_scope

PER_PAGE_CHOICES = (20, 50, 100)
EXPORT_CHUNK = 5000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")


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
    options: Callable[[CurrentUser], Awaitable[list[tuple[str, str]]]] | None = None


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
    table: DataTable
    state: TableState
    rows: list[dict]
    total: int
    filter_options: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.state.per_page))

    @property
    def first_index(self) -> int:
        return 0 if not self.total else (self.state.page - 1) * self.state.per_page + 1

    @property
    def last_index(self) -> int:
        return min(self.total, self.state.page * self.state.per_page)

    def page_links(self) -> list[int | None]:
        """`1 2 3 … 18`: the first, the last and a window around the current page; None is a gap."""
        pages, current = self.pages, self.state.page
        wanted = {1, pages} | set(range(max(1, current - 2), min(pages, current + 2) + 1))
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

    # -- parsing ------------------------------------------------------------------------------
    def parse(self, params: Mapping[str, str]) -> TableState:
        filters = {f.key: (params.get(f.key) or "").strip()[:200] for f in self.filters}
        sortable = {c.key for c in self.columns if c.sort is not None}
        sort = params.get("sort") or self.default_sort
        if sort.lstrip("-") not in sortable:
            sort = self.default_sort
        try:
            per_page = int(params.get("per_page") or PER_PAGE_CHOICES[0])
        except ValueError:
            per_page = PER_PAGE_CHOICES[0]
        if per_page not in PER_PAGE_CHOICES:
            per_page = PER_PAGE_CHOICES[0]
        try:
            page = max(1, int(params.get("page") or 1))
        except ValueError:
            page = 1
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

    def _order(self, query, state: TableState):
        key = state.sort.lstrip("-")
        column = next(c.sort for c in self.columns if c.key == key)
        query = query.order_by(column, ascending=not state.sort.startswith("-"))
        # A stable order across pages.
        return query.order_by(self.table.id, ascending=True)

    async def fetch(self, user: CurrentUser, params: Mapping[str, str], extra=None) -> TablePage:
        """One page; ``extra`` is a where clause of the screen (e.g. the rows of one import)."""
        state = self.parse(params)
        scope = await establishment_scope(user)
        clauses = self._where(user, scope, state, extra)
        count_query = self.table.count()
        if clauses:
            count_query = count_query.where(*clauses)
        total = await count_query
        pages = max(1, math.ceil(total / state.per_page))
        state.page = min(state.page, pages)
        query = self.table.select(*self.select)
        if clauses:
            query = query.where(*clauses)
        query = self._order(query, state).limit(state.per_page).offset((state.page - 1) * state.per_page)
        rows = await query
        options = {}
        for f in self.filters:
            if f.options is not None:
                options[f.key] = await f.options(user)
        return TablePage(table=self, state=state, rows=rows, total=total, filter_options=options)

    async def count(self, user: CurrentUser, params: Mapping[str, str], extra=None) -> int:
        state = self.parse(params)
        clauses = self._where(user, await establishment_scope(user), state, extra)
        query = self.table.count()
        return await (query.where(*clauses) if clauses else query)

    async def iter_rows(self, user: CurrentUser, params: Mapping[str, str], chunk: int = EXPORT_CHUNK, extra=None):
        """Every filtered row in the table's order, a chunk at a time."""
        state = self.parse(params)
        clauses = self._where(user, await establishment_scope(user), state, extra)
        offset = 0
        while True:
            query = self.table.select(*self.select)
            if clauses:
                query = query.where(*clauses)
            rows = await self._order(query, state).limit(chunk).offset(offset)
            if not rows:
                return
            yield rows
            if len(rows) < chunk:
                return
            offset += chunk

    # -- export -------------------------------------------------------------------------------
    def export_values(self, row: dict) -> list:
        return [c.export(row) if c.export else row.get(c.key) for c in self.columns if c.exported]

    async def export_xlsx(self, user: CurrentUser, params: Mapping[str, str], on_progress=None, extra=None) -> bytes:
        chunks = []
        async for rows in self.iter_rows(user, params, extra=extra):
            chunks.append([self.export_values(r) for r in rows])
            if on_progress:
                await on_progress(sum(len(c) for c in chunks))
        return write_xlsx([c.label for c in self.columns if c.exported], [r for c in chunks for r in c])


def neutralise(value: Any) -> Any:
    """A spreadsheet must never run what a user typed: '=cmd|…' becomes the text "'=cmd|…"."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def write_xlsx(headers: list[str], rows: list[list[Any]], sheet: str = "Export") -> bytes:
    columns = list(zip(*rows)) if rows else [[] for _ in headers]
    data = {}
    for header, values in zip(headers, columns):
        values = [neutralise(v) for v in values]
        if all(v is None or isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            data[header] = pl.Series(header, values, dtype=pl.Float64 if any(isinstance(v, float) for v in values) else pl.Int64)
        else:
            data[header] = pl.Series(header, ["" if v is None else str(v) for v in values], dtype=pl.String)
    frame = pl.DataFrame(data)
    buffer = io.BytesIO()
    frame.write_excel(buffer, worksheet=sheet, autofit=len(rows) <= 10000, header_format={"bold": True})
    return buffer.getvalue()
