"""Long jobs seen from the browser: the progress page and partial, and downloading a result."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import Template

from app.http.responder import render, stored_download, wants_fragment
from app.http.web import current_user
from app.jobs import results
from app.lists import MEDIA_TYPES
from app.services import progress
from app.services.errors import NotFound

GONE = "Cette tâche n'existe pas ou a expiré."


async def _owned(request: Request, token: str) -> dict:
    state = await progress.get(request.app.state.redis, token)
    if state is None or state.get("owner") != current_user(request).id:
        raise NotFound(GONE)
    return state


@get("/taches/{token:str}", name="jobs.show")
async def job_page(request: Request, token: FromPath[str]) -> Template:
    state = await _owned(request, token)
    response = render(request, "jobs/progress.html", {"job": state, "token": token}, region="jobs/_progress.html")
    if state["finished"] and wants_fragment(request):
        response.status_code = 286  # htmx: stop polling, still swap the outcome in
    return response


@get("/exports/{token:str}", name="jobs.download", opt={"no_compression": True})
async def download_export(request: Request, token: FromPath[str]) -> Response:
    state = await _owned(request, token)
    fmt = state.get("format")
    # Only an export's result (a ZIP or a sheet has its own route, which checks its session's scope).
    is_export = fmt in MEDIA_TYPES and state.get("content_type") == MEDIA_TYPES[fmt]
    stored = await results.stored_result(state, max_age=results.EXPORT_MAX_AGE) if is_export else None
    if stored is None:
        raise NotFound("Ce fichier n'est plus disponible : relancez l'export.")
    return stored_download(stored, state.get("filename", "export.xlsx"), MEDIA_TYPES[fmt], cache="no-store")


HANDLERS = [job_page, download_export]
