"""« Mes données » (issue 25): every logged-in person downloads what Tremplin holds about them, as a
ZIP a job prepares (app/jobs/my_data.py); the request is recorded in the audit trail."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Template

from app.http.forms import as_values, read_form
from app.http.responder import redirect, render, start_job, stored_download, url
from app.http.web import current_user
from app.jobs import kinds, results
from app.services import audit, my_data, progress
from app.services.errors import NotFound, ValidationFailed
from app.services.retention import erasure

GONE = "Ce fichier n'est plus disponible : préparez à nouveau vos données."


class MyDataController(Controller):
    path = "/mes-donnees"

    async def _page(self, request, values=None, errors=None, status_code=200):
        return render(request, "my_data/index.html", {
            "labels": my_data.LABELS, "pending": await erasure.pending_for(current_user(request).id),
            "values": values or {}, "errors": errors or {}}, status_code=status_code)

    @get("/", name="my_data.index")
    async def index(self, request: Request) -> Template:
        return await self._page(request)

    @post("/suppression", name="my_data.erasure")
    async def ask_erasure(self, request: Request) -> Response:
        """« Demander la suppression »: recorded for an administrator, who answers within a month."""
        form = await read_form(request, erasure.AskForm)
        try:
            await erasure.ask(current_user(request), form.message)
        except ValidationFailed as invalid:
            return await self._page(request, as_values(form), invalid.errors, 422)
        return redirect(request, url(request, "my_data.index"),
                        "Votre demande de suppression est enregistrée : un administrateur y répond par courriel dans "
                        "le mois.")

    @post("/", name="my_data.export")
    async def export(self, request: Request) -> Response:
        user = current_user(request)
        return await start_job(request, kinds.MY_DATA, "Mes données (ZIP)", lambda token: (user.id, token),
                               result_route="my_data.download", once="me",
                               again="Vos données sont déjà en préparation : voici où en est la tâche.",
                               on_submit=lambda: audit.record("data.exported", "user", user.id, user.username,
                                                              {"format": "zip", "what": "my_data"}))

    @get("/{token:str}", name="my_data.download", opt={"no_compression": True})
    async def download(self, request: Request, token: FromPath[str]) -> Response:
        state = await progress.get(request.app.state.redis, token)
        # Only the owner's own « Mes données » result (another job's token answers the same « gone »).
        if state is None or state.get("owner") != current_user(request).id \
                or not str(state.get("filename", "")).startswith(my_data.FILENAME_PREFIX):
            raise NotFound(GONE)
        stored = await results.stored_result(state, max_age=results.EXPORT_MAX_AGE)
        if stored is None:
            raise NotFound(GONE)
        return stored_download(stored, state["filename"], "application/zip")


HANDLERS = [MyDataController]
