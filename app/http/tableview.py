"""Serving a DataTable: the page, its htmx region, and its Excel export (inline or as a job)."""

from __future__ import annotations

import secrets

from litestar import Request, Response
from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER

from app.datatable import DataTable
from app.http.responder import render
from app.http.web import current_user
from app.lists import XLSX, export_filename
from app.queue import enqueue
from app.services import progress
from app.settings import get_settings


def xlsx_response(content: bytes, filename: str) -> Response:
    return Response(
        content=content,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


async def table_view(
    request: Request, table: DataTable, page: str, region: str, context: dict | None = None, extra=None
) -> Response:
    """GET handler body shared by every list screen. `?export=xlsx` exports all filtered rows.
    ``extra`` (a where clause) limits the table to what the screen is about; exports that large
    enough to need a job are only offered for whole tables (extra=None)."""
    user = current_user(request)
    params = dict(request.query_params)
    if params.pop("export", None) == "xlsx":
        total = await table.count(user, params, extra=extra)
        if extra is not None or total <= get_settings().export_inline_max_rows:
            return xlsx_response(await table.export_xlsx(user, params, extra=extra), export_filename(table))
        token = secrets.token_urlsafe(16)
        await progress.start(request.app.state.redis, token, user.id, f"Export Excel ({total} lignes)", total)
        await enqueue(request.app.state.redis, "export_table", table.name, user.id, params, token)
        return Redirect(path=request.app.route_reverse("jobs.show", token=token), status_code=HTTP_303_SEE_OTHER)
    table_page = await table.fetch(user, params, extra=extra)
    return render(request, page, {"table": table_page, **(context or {})}, region=region)
