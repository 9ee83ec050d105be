"""Long jobs seen from the browser: the progress page and partial, and downloading a result."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import Template

from app.http.responder import render, wants_fragment
from app.http.tableview import file_response
from app.http.web import current_user
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


@get("/exports/{token:str}", name="jobs.download")
async def download_export(request: Request, token: FromPath[str]) -> Response:
    state = await _owned(request, token)
    content = await request.app.state.redis.get(f"export:{token}")
    if content is None or state.get("state") != "done":
        raise NotFound("Ce fichier n'est plus disponible : relancez l'export.")
    return file_response(content, state.get("filename", "export.xlsx"), state.get("format", "xlsx"))


HANDLERS = [job_page, download_export]
