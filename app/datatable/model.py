"""What a list is made of: its columns, filters, state read from the query string, one page, and
what an export is about; the limits every list shares."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from app.numbers import to_int
from app.services.roles import CurrentUser

if TYPE_CHECKING:
    from app.datatable.table import DataTable
    from app.services.scope import Scope

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
# A ``count_in_page`` list's page that skips at least this many rows reads its ids first (the table's
# own columns), then those rows with their joined columns: the skipped rows are not joined (page 100
# of a session's learners skipped 4,950 reads of their accounts). Below, one query does both.
DEFERRED_JOIN_OFFSET = 500
# A filter whose choices can grow without bound proposes at most this many matches of what is typed.
SUGGESTIONS = 20
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
class Choices:
    """The choices of a filter that grow without bound (sessions, public sign-up organisations,
    establishments): never all rendered into a ``<select>``. The filter is a text field: what is
    typed filters (accent- and case-insensitive, as every search), and with JavaScript the field
    suggests up to SUGGESTIONS matching choices, one of which can be picked (its id)."""

    table: Any  # the Piccolo table chosen from
    columns: tuple  # the columns the label is made of
    label: Callable[[dict], str]
    order: Any  # the suggestions' order
    search: Callable[[str], Any]  # the text -> a where clause on ``table``, None for a blank text
    # The choices the caller may see, as a where clause on ``table`` (None: no restriction of its own)
    allowed: Callable[[CurrentUser, Scope], Any] | None = None
    # Only the choices that some row of the list, in the caller's scope, refers to: for a list that
    # is not establishment-scoped (the registration requests), whose rows bound what it may suggest.
    among_rows: bool = False

    def bounds(self, user: CurrentUser, scope: Scope) -> list:
        clause = self.allowed(user, scope) if self.allowed is not None else None
        return [] if clause is None else [clause]

    def matching_ids(self, text: str):
        """The ids of the choices ``text`` matches, as a subquery (None for a blank text): a list
        filters its foreign key on it, and so keeps using its own indexes."""
        clause = self.search(text)
        return None if clause is None else self.table.select(self.table.id).where(clause)

    async def matching(self, text: str, bounds: list) -> tuple[list[tuple[str, str]], bool]:
        """(id, label) of at most SUGGESTIONS choices within ``bounds`` that ``text`` matches, and
        whether more match."""
        clause = self.search(text.strip()[:200])
        if clause is None:
            return [], False
        rows = await self.table.select(self.table.id, *self.columns).where(clause, *bounds).order_by(
            self.order).order_by(self.table.id).limit(SUGGESTIONS + 1)
        return [(str(r["id"]), self.label(r)) for r in rows[:SUGGESTIONS]], len(rows) > SUGGESTIONS

    async def label_of(self, chosen: int | None, bounds: list) -> str | None:
        """The label of choice ``chosen`` if it lies within ``bounds``: an id never names a choice
        outside the caller's reach."""
        if chosen is None:
            return None
        row = await self.table.select(*self.columns).where(self.table.id == chosen, *bounds).first()
        return None if row is None else self.label(row)


@dataclass(frozen=True)
class Filter:
    key: str
    label: str
    where: Callable[[str], Any]  # the value as typed -> a Piccolo where clause (or None to ignore)
    kind: str = "text"  # text | select | date | choice
    # The choices of a select: a fixed list, or an async function of the user (e.g. their establishments).
    options: list[tuple[str, str]] | Callable[[CurrentUser], Awaitable[list[tuple[str, str]]]] | None = None
    # kind "choice": the list's foreign key to the chosen table, and the choices
    column: Any = None
    choices: Choices | None = None

    @property
    def text_key(self) -> str:
        """The query parameter of a choice filter's typed text (``key`` holds the picked id)."""
        return f"{self.key}_q"


def choice_filter(key: str, label: str, column, choices: Choices) -> Filter:
    """A filter on a foreign key whose choices can grow: ``?key=<id>`` (a picked suggestion) or
    ``?key_q=<text>`` (typed, JavaScript or not)."""

    def where(value: str):
        chosen = to_int(value)
        return None if chosen is None else column == chosen

    return Filter(key, label, where, kind="choice", column=column, choices=choices)


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
