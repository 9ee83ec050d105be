"""Serving a DataTable: the page, its htmx region, and its Excel export (inline or as a job)."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER

from app.datatable import EXPORT_FORMATS, About, Choices, DataTable, Pick
from app.http.responder import content_disposition, render, url
from app.http.web import current_user
from app.lists import MEDIA_TYPES, export_filename
from app.jobs import kinds
from app.services import audit, progress
from app.services.scope import establishment_scope
from app.settings import get_settings


def file_response(content: bytes, filename: str, fmt: str = "xlsx") -> Response:
    return Response(
        content=content,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": content_disposition(filename), "Cache-Control": "no-store"},
    )


async def export_response(request: Request, table: DataTable, params: dict, fmt: str = "xlsx", extra=None,
                          job_allowed: bool = True) -> Response:
    """The file of every filtered row: inline when small, else a background job and its progress page.
    A table with ``about`` (one session's progress) recomputes its where clause and columns from
    ``params`` here and in the job alike; ``extra`` (a where clause of the screen only, such as a
    selection of rows) keeps the export inline. ``fmt``: xlsx or csv."""
    user = current_user(request)
    fmt = fmt if fmt in EXPORT_FORMATS else "xlsx"
    about = await table.about(params) if table.about is not None else About()
    where = about.where if extra is None else (extra if about.where is None else about.where & extra)
    total = await table.count(user, params, extra=where)
    await audit.record("data.exported", "list", None, table.name,
                       {"format": fmt, "rows": total, "filters": {k: v for k, v in params.items() if v}})
    if not job_allowed or extra is not None or total <= get_settings().export_inline_max_rows:
        content = await table.export(user, params, fmt, extra=where, extra_columns=about.columns,
                                     heading=about.heading)
        return file_response(content, export_filename(table, fmt), fmt)
    token = secrets.token_urlsafe(16)
    label = EXPORT_FORMATS[fmt].split(" ")[0]
    await progress.start(request.app.state.redis, token, user.id, f"Export {label} ({total} lignes)", total,
                         result_url=url(request, "jobs.download", token=token))
    await kinds.EXPORT_TABLE.submit(request.app.state.redis, table.name, user.id, params, token, fmt,
                                   created_by=user.id)
    return Redirect(path=url(request, "jobs.show", token=token), status_code=HTTP_303_SEE_OTHER)


async def suggestions(request: Request, table: DataTable, key: str, params: dict) -> Response:
    """``?suggest=<filter>&<filter>_q=<text>``: the choices a filter of kind "choice" proposes for
    what is typed (the options of its listbox, for htmx). Served by the list's own route, so by its
    guard, and bounded by the caller's scope as the list is."""
    f = table.choice(key)
    text = params.get(f.text_key, "") if f is not None else ""
    options, more = await table.suggest(current_user(request), key, text)
    return render(request, "_suggestions.html", {"key": key, "options": options, "more": more, "text": text.strip()})


async def choice_suggestions(request: Request, key: str, choices: Choices) -> Response:
    """The same answer as a list's ``?suggest=``, for a screen's choice field that is not a list's."""
    user = current_user(request)
    text = request.query_params.get(f"{key}_q") or ""
    options, more = await choices.matching(text, choices.bounds(user, await establishment_scope(user)))
    return render(request, "_suggestions.html", {"key": key, "options": options, "more": more, "text": text.strip()})


def match_links(picked: Pick, key: str, base: str, query: dict) -> list[tuple[str, str]]:
    """(label, link) of each choice a text typed without picking matches: the screen's query with
    that choice picked (the links of ``choice_matches`` in templates/_table.html)."""
    return [(label, f"{base}?{urlencode({**query, key: value})}") for value, label in picked.matches]


async def table_view(
    request: Request, table: DataTable, page: str, region: str, context: dict | None = None, extra=None,
    params: dict | None = None, options: dict | None = None,
) -> Response:
    """GET handler body shared by every list screen. `?export=xlsx` (or csv) exports all filtered
    rows; `?suggest=<filter>` answers a choice filter's suggestions. ``extra`` (a where clause)
    limits the table to what the screen is about; exports large enough to need a job are only
    offered for tables the job can rebuild (extra=None). ``params``:
    the query with what the screen adds (the session of a table ``about`` one); ``options``: choices
    of select filters that depend on the screen."""
    user = current_user(request)
    params = dict(request.query_params) if params is None else params
    if "suggest" in params:
        return await suggestions(request, table, params["suggest"], params)
    fmt = params.pop("export", None)
    if fmt in EXPORT_FORMATS:
        return await export_response(request, table, params, fmt, extra=extra, job_allowed=extra is None)
    if table.about is not None:
        about = await table.about(params)
        extra = about.where if extra is None else extra & about.where
    table_page = await table.fetch(user, params, extra=extra, options=options)
    return render(request, page, {"table": table_page, **(context or {})}, region=region)
