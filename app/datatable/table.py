"""The ``DataTable``: one list's query (scope, filters, sort, a page, a count up to COUNT_CAP) and
its export."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from operator import methodcaller
from pathlib import Path
from typing import Any

from piccolo.columns.combination import WhereRaw

import app.datatable.model as limits  # COUNT_CAP, GROUP_WALK_*: read at each use (a test or bench sets them)
from app import db
from app.datatable.model import (
    EXPORT_CHUNK,
    PER_PAGE_CHOICES,
    About,
    Choices,
    Col,
    Filter,
    TablePage,
    TableState,
)
from app.datatable.writers import export_writer
from app.numbers import to_int
from app.services.roles import CurrentUser
from app.services.scope import Scope, establishment_scope
from app.services.text import fold


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
    # The exact total, and the page read by its own ORDER BY … LIMIT (no ids query): one query for a
    # list that fits in a page, two otherwise (``_page_with_total``). For tables of a bounded size
    # (one session's learners); a list that may reach 100,000 rows keeps the bounded count and pages
    # from either end.
    count_in_page: bool = False
    # A table about one object (the progress of one session): from the params (the object's id put
    # there by the screen), the where clause and the extra columns (one per activity). Awaited by the
    # screen and by the export job alike, so a background export is the table the page shows.
    about: Callable[[Mapping[str, str]], Awaitable[About]] | None = None

    # -- parsing ------------------------------------------------------------------------------
    def parse(self, params: Mapping[str, str]) -> TableState:
        filters = {f.key: (params.get(f.key) or "").strip()[:200] for f in self.filters}
        filters.update({f.text_key: (params.get(f.text_key) or "").strip()[:200] for f in self.filters
                        if f.kind == "choice"})
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
            clause = f.where(value) if value else None
            if clause is None and f.kind == "choice":  # nothing picked: the typed text, if any
                matching = f.choices.matching_ids(state.filters.get(f.text_key) or "")
                clause = None if matching is None else f.column.is_in(matching)
            if clause is not None:
                clauses.append(clause)
        return clauses

    # -- choices that grow without bound (kind "choice") ---------------------------------------
    def choice(self, key: str | None) -> Filter | None:
        return next((f for f in self.filters if f.kind == "choice" and f.key == key), None)

    def _choice_bounds(self, user: CurrentUser, scope: Scope, f: Filter) -> list:
        """What bounds the choices the caller may be shown: their own rule (the establishments in
        scope) and, for ``among_rows``, being referred to by a row the list shows the caller."""
        bounds = f.choices.bounds(user, scope)
        if f.choices.among_rows:
            listed = self._where(user, scope, TableState({}, self.default_sort, 1, PER_PAGE_CHOICES[0]))
            referred = self.table.select(f.column)
            bounds.append(f.choices.table.id.is_in(referred.where(*listed) if listed else referred))
        return bounds

    async def suggest(self, user: CurrentUser, key: str, text: str) -> tuple[list[tuple[str, str]], bool]:
        """(id, label) of at most SUGGESTIONS choices of filter ``key`` matching ``text``, among those
        the caller may see, and whether more match; none for an unknown filter."""
        f = self.choice(key)
        if f is None:
            return [], False
        return await f.choices.matching(text, self._choice_bounds(user, await establishment_scope(user), f))

    async def _resolve_choices(self, user: CurrentUser, scope: Scope, state: TableState) -> None:
        """A picked choice (its id) holds until another text is typed in its field (a form sent
        without JavaScript keeps the hidden id): then the id is dropped and the text filters. The
        field shows the label of the picked choice only if the caller may see it: an id never
        reveals a choice outside their reach (and filters on it match nothing they may see)."""
        for f in self.filters:
            if f.kind != "choice" or not state.filters.get(f.key):
                continue
            label = await f.choices.label_of(to_int(state.filters[f.key]), self._choice_bounds(user, scope, f))
            text = state.filters[f.text_key]
            if text and (label is None or fold(text) != fold(label)):
                state.filters[f.key] = ""
            elif label is not None:
                state.filters[f.text_key] = label

    async def state(self, user: CurrentUser, params: Mapping[str, str]) -> tuple[TableState, Scope]:
        """The list's state for ``params`` (choices resolved) and the caller's scope."""
        state = self.parse(params)
        scope = await establishment_scope(user)
        await self._resolve_choices(user, scope, state)
        return state, scope

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
            referenced.id, ascending=ascending).limit(limits.GROUP_WALK_MAX + 1)
        if len(groups) > limits.GROUP_WALK_MAX:
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
        start, batch = 0, limits.GROUP_WALK_BATCH
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

    async def _bounded_ids(self, clauses: list, cap: int) -> list[int]:
        """The ids of the matching rows, ``cap + 1`` at most and in no order (one query): their number
        is the bounded count, and when they are all of them the page is sorted among them. The list's
        filters then run once, not twice (a search whose trigrams are in most rows reads much of its
        index: once for the count, once more for the page, before). On PostgreSQL one array."""
        inner = self.table.select(self.table.id)
        if clauses:
            inner = inner.where(*clauses)
        inner = inner.limit(cap + 1)
        if self.table._meta.db.engine_type == "sqlite":
            return [r["id"] for r in await inner]
        rows = await self.table.raw("SELECT array_agg(id) AS ids FROM ({}) AS bounded", inner.querystrings[0])
        return rows[0]["ids"] or []

    async def _page(self, clauses: list, state: TableState) -> tuple[list[dict], int, bool]:
        """The bounded count (the matching ids, up to the cap), the page's ids (among those ids when
        they are all of them; else from the start or the end of the whole list), then its rows."""
        matched = await self._bounded_ids(clauses, limits.COUNT_CAP)
        counted = len(matched)
        capped = counted > limits.COUNT_CAP
        total = min(counted, limits.COUNT_CAP)
        per_page = state.per_page
        if capped:
            reachable = max(1, limits.COUNT_CAP // per_page)
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
        ids = None if not capped else await self._group_walk(clauses, state, from_end, skip + per_page)
        if ids is not None:
            ids = ids[skip:]
        elif matched:
            where = clauses if capped else [db.among(self.table.id, matched)]
            ids_query = self.table.select(self.table.id)
            ids_query = self._order(ids_query.where(*where) if where else ids_query, state, reverse=from_end)
            ids_query = ids_query.limit(per_page).offset(skip)
            ids = [r["id"] for r in await ids_query]
        else:
            ids = []
        if from_end:
            ids.reverse()
        return (await self._rows_of(ids) if ids else []), total, capped

    async def _rows_of(self, ids: list[int]) -> list[dict]:
        """The rows of these ids, with their joined columns, in the order of ``ids``."""
        position = {row_id: i for i, row_id in enumerate(ids)}
        rows = await self.table.select(*self.select).where(self.table.id.is_in(ids))
        rows.sort(key=lambda r: position[r["id"]])
        return rows

    async def _exact_count(self, clauses: list) -> int:
        query = self.table.count()
        return await (query.where(*clauses) if clauses else query)

    async def _page_with_total(self, clauses: list, state: TableState) -> tuple[list[dict], int]:
        """``count_in_page``: the page and the exact total. The total is a count of its own, on the
        table's rows with only the joins its where needs, not ``COUNT(*) OVER ()`` in the page query:
        a window runs every matching row through the page's joins before the LIMIT (20,000 index
        probes into app_user for a page of 50 learners). A page that is not full tells the total
        itself (what comes before it + its rows): a list that fits in one page stays one query."""

        async def page_query() -> list[dict]:
            offset = (state.page - 1) * state.per_page
            deferred = offset >= limits.DEFERRED_JOIN_OFFSET
            query = self.table.select(*((self.table.id,) if deferred else self.select))
            if clauses:
                query = query.where(*clauses)
            query = self._order(query, state).limit(state.per_page).offset(offset)
            if not deferred:
                return await query
            ids = [r["id"] for r in await query]
            return await self._rows_of(ids) if ids else []

        if state.page < 0:  # counted from the end: the count first, then that page
            total = await self._exact_count(clauses)
            state.page = max(1, math.ceil(total / state.per_page) + 1 + state.page)
            return (await page_query() if total else []), total
        rows = await page_query()
        if 0 < len(rows) < state.per_page or (not rows and state.page == 1):
            return rows, (state.page - 1) * state.per_page + len(rows)
        total = await self._exact_count(clauses)
        if not rows and total:  # a page past the end: the last one
            state.page = max(1, math.ceil(total / state.per_page))
            rows = await page_query()
        return rows, total

    async def fetch(self, user: CurrentUser, params: Mapping[str, str], extra=None,
                    options: dict[str, list[tuple[str, str]]] | None = None) -> TablePage:
        """One page; ``extra`` is a where clause of the screen (e.g. the rows of one import);
        ``options`` gives the choices of select filters that depend on the screen (its cohorts).

        Three queries whatever the size of the list: the count (the matching ids, bounded by
        COUNT_CAP), the ids of the page (sorted among those ids when the count is not capped; else
        only the table's own columns and those the sort needs, skipping at most COUNT_CAP rows from
        the start or, reversed, from the end), then the page's rows with their
        joined columns (a ``count_in_page`` table: the page, then its exact count unless the page
        tells it); plus one per ``enrich``, per filter with choices and per picked choice (its label)."""
        state, scope = await self.state(user, params)
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
        state, scope = await self.state(user, params)
        return self._where(user, scope, state, extra)

    async def count(self, user: CurrentUser, params: Mapping[str, str], extra=None) -> int:
        clauses = await self.clauses(user, params, extra)
        query = self.table.count()
        return await (query.where(*clauses) if clauses else query)

    async def iter_rows(self, user: CurrentUser, params: Mapping[str, str], chunk: int = EXPORT_CHUNK, extra=None):
        """Every filtered row in the table's order, a chunk at a time, through one database cursor
        (no OFFSET: a 100,000-row export is one sorted scan)."""
        state, scope = await self.state(user, params)
        clauses = self._where(user, scope, state, extra)

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
        async with aclosing(db.batches(build(), chunk)) as batches:
            async for rows in batches:
                yield await self.enrich(rows) if self.enrich is not None else rows

    # -- export -------------------------------------------------------------------------------
    def export_columns(self, extra_columns: tuple[Col, ...] = ()) -> list[Col]:
        return [c for c in (*self.columns, *extra_columns) if c.exported]

    def export_values(self, row: dict, columns: list[Col] | None = None) -> list:
        columns = self.export_columns() if columns is None else columns
        return [c.export(row) if c.export else row.get(c.key) for c in columns]

    async def export(self, user: CurrentUser, params: Mapping[str, str], fmt: str = "xlsx", on_progress=None,
                     extra=None, extra_columns: tuple[Col, ...] = (), heading: tuple[str, ...] = (),
                     to: Path | None = None) -> bytes | Path:
        """The Excel (``xlsx``) or text (``csv``) file of every filtered row, streamed: the next
        chunk is read from the database while the previous one is written, and at most two chunks
        are in memory. ``extra_columns`` follow the table's own (one per activity of a session);
        ``heading``: lines written above the table (About.heading). ``to``: the scratch file to
        write (a job's export; returned), else the file's bytes are returned."""
        columns = self.export_columns(extra_columns)
        headers = [c.label for c in columns]
        writer = export_writer(fmt, headers, heading, to=to)
        # export_values, column by column, decided once for the whole export
        # (a plain column read by methodcaller: no Python frame a row)
        exporters = [c.export or methodcaller("get", c.key) for c in columns]

        def shape_and_write(rows: list[dict]) -> None:
            writer.write_columns([list(map(get, rows)) for get in exporters])  # column by column

        pending: asyncio.Task | None = None
        done = 0
        try:
            # closed here whatever happens: its cursor's transaction is this task's until then
            async with aclosing(self.iter_rows(user, params, extra=extra)) as batches:
                async for rows in batches:
                    if pending is not None:
                        await pending
                    # Shaped and written in a thread, while the loop fetches the next chunk: the
                    # database produces it meanwhile, instead of the two taking turns.
                    pending = asyncio.create_task(asyncio.to_thread(shape_and_write, rows))
                    done += len(rows)
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


@dataclass
class Pick:
    """A choice field of a screen that is not a list (the analytics dashboard): the choice it
    filters on, or what was typed and the choices it matches (to be picked from)."""

    id: int | None = None
    text: str = ""  # what the field shows: the picked choice's label, or what was typed
    matches: list[tuple[str, str]] = field(default_factory=list)
    more: bool = False
    refused: bool = False  # an id the caller may not see (or none): the filter is ignored


async def pick(choices: Choices, user: CurrentUser, chosen: str | None, text: str | None) -> Pick:
    """What ``?<key>=<id>&<key>_q=<text>`` filters on, as a list's choice filter reads them: a
    picked choice holds while its label is in the field; a typed text that names one choice only
    picks it (typed without JavaScript); one that names several leaves them to pick from."""
    bounds = choices.bounds(user, await establishment_scope(user))
    text = (text or "").strip()[:200]
    chosen_id = to_int(chosen)
    label = await choices.label_of(chosen_id, bounds)
    if label is not None and fold(text) in ("", fold(label)):
        return Pick(chosen_id, label)
    if not text:
        return Pick(refused=bool(chosen))
    matches, more = await choices.matching(text, bounds)
    if len(matches) == 1 and not more:
        return Pick(int(matches[0][0]), matches[0][1])
    return Pick(text=text, matches=matches, more=more)
