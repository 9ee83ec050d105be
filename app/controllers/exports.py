"""Long jobs seen from the browser: the progress page and partial, and downloading a result."""

from __future__ import annotations

from litestar.params import FromPath
from litestar import Request, Response, get
from litestar.response import Template

from app.services import progress
from app.services.errors import NotFound
from app.tableview import XLSX
from app.web import current_user


async def _owned(request: Request, token: FromPath[str]) -> dict:
    state = await progress.get(request.app.state.redis, token)
    if state is None or state.get("owner") != current_user(request).id:
        raise NotFound("Cette tâche n'existe pas, a expiré ou ne vous appartient pas.")
    return state


@get("/taches/{token:str}")
async def job_page(request: Request, token: FromPath[str]) -> Template | Response:
    state = await _owned(request, token)
    if request.headers.get("hx-request") == "true":
        # The partial polls itself; once the job is over, stop the polling and show the outcome.
        response = Template("jobs/_progress.html", context={"job": state, "token": token})
        if state["finished"]:
            response.status_code = 286  # htmx: stop polling, still swap
        return response
    return Template("jobs/progress.html", context={"job": state, "token": token})


@get("/exports/{token:str}")
async def download_export(request: Request, token: FromPath[str]) -> Response:
    state = await _owned(request, token)
    content = await request.app.state.redis.get(f"export:{token}")
    if content is None or state.get("state") != "done":
        raise NotFound("Ce fichier n'est plus disponible : relancez l'export.")
    return Response(
        content=content,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{state.get("filename", "export.xlsx")}"',
                 "Cache-Control": "no-store"},
    )


HANDLERS = [job_page, download_export]
