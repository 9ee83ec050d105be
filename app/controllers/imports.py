"""Créer des comptes (via import CSV): upload, the analysis's progress, preview with decisions,
confirm, progress, report."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Response, Template

from app.http.forms import read_form, read_upload
from app.http.responder import is_htmx, redirect, render, url
from app.http.tableview import table_view
from app.http.web import current_user, safe_next
from app.lists.imports import IMPORT_ROWS, OUTCOME_LABELS, STATUS_LABELS
from app.services import imports, progress
from app.services.roles import ADMIN, GED, GET
from app.services.scope import require_establishment
from app.settings import get_settings
from app.tables.imports import ImportRow


@dataclass
class Decision:
    decision: str = ""
    next: str = ""


@dataclass
class DecisionForAll:
    all: str = ""
    next: str = ""


class ImportUploadController(Controller):
    path = "/etablissements/{establishment_id:int}/import"
    opt = {"roles": (ADMIN, GED, GET)}
    # Twice the largest accepted file: a file a bit too big still gets the import's own message.
    request_max_body_size = 2 * get_settings().import_max_bytes + 1024 * 1024

    def _page(self, request, establishment, error=None, status_code=200):
        settings = get_settings()
        return render(
            request, "imports/upload.html",
            {"establishment": establishment, "error": error, "expected": imports.EXPECTED_TEXT,
             "max_mb": settings.import_max_bytes // 1_048_576, "max_rows": settings.import_max_rows},
            status_code=status_code,
        )

    @get("/", name="imports.new")
    async def form(self, request: Request, establishment_id: FromPath[int]) -> Template:
        establishment = await require_establishment(current_user(request), establishment_id)
        return self._page(request, establishment)

    @post("/", name="imports.upload")
    async def upload(self, request: Request, establishment_id: FromPath[int]) -> Response:
        user = current_user(request)
        establishment = await require_establishment(user, establishment_id)
        uploaded = await read_upload(request)
        if uploaded is None:
            return self._page(request, establishment, "Choisissez un fichier CSV (ou .xlsx) à importer.", 422)
        filename, content = uploaded
        try:
            batch_id, again = await imports.upload(user, establishment_id, filename, content,
                                                   request.app.state.redis)
        except imports.ImportRejected as rejected:
            return self._page(request, establishment, rejected.message, 422)
        return redirect(request, url(request, "imports.show", batch_id=batch_id), imports.AGAIN if again else None,
                        "info")


async def _own_progress(request: Request, user, batch: dict) -> dict | None:
    """The progress of the batch's analysis or import, to the person who started it only: its progress
    box polls /taches/<token>, which answers its owner alone (another manager of the establishment
    would see a bar frozen at 0 %: their page refreshes itself instead)."""
    state = await progress.get(request.app.state.redis, batch["token"]) if batch["token"] else None
    return state if state is not None and state.get("owner") == user.id else None


class ImportBatchController(Controller):
    path = "/imports/{batch_id:int}"
    opt = {"roles": (ADMIN, GED, GET)}

    @staticmethod
    def _labels() -> dict:
        return {"decision_labels": imports.DECISION_LABELS, "status_labels": STATUS_LABELS,
                "outcome_labels": OUTCOME_LABELS}

    @get("/", name="imports.show")
    async def show(self, request: Request, batch_id: FromPath[int]) -> Response:
        user = current_user(request)
        batch = await imports.batch_in_scope(user, batch_id)
        here = url(request, "imports.show", batch_id=batch_id)
        context = {
            "batch": batch,
            "summary": await imports.batch_summary(batch),
            "job": await _own_progress(request, user, batch),
            "url": here,
            "back": here + (f"?{request.url.query}" if request.url.query else ""),
            **self._labels(),
        }
        return await table_view(
            request, IMPORT_ROWS, "imports/batch.html", "imports/_rows.html", context,
            extra=ImportRow.batch == batch_id,
        )

    @post("/lignes/{row_id:int}", name="imports.decide")
    async def decide(self, request: Request, batch_id: FromPath[int], row_id: FromPath[int]) -> Response:
        user = current_user(request)
        form = await read_form(request, Decision)
        here = url(request, "imports.show", batch_id=batch_id)
        back = safe_next(form.next, here)
        row = await imports.set_decision(user, batch_id, row_id, form.decision)
        if is_htmx(request):
            # The row's decision, and the summary swapped out of band: the counts of what
            # confirming will do are recomputed from the database after every decision.
            batch = await imports.batch_in_scope(user, batch_id)
            return render(request, "imports/_decided.html", {
                "row": row, "batch": batch, "summary": await imports.batch_summary(batch), "url": here,
                "back": back, "saved": True, **self._labels()})
        return redirect(request, back)

    @post("/decisions", name="imports.decide_all")
    async def decide_all(self, request: Request, batch_id: FromPath[int]) -> Response:
        user = current_user(request)
        form = await read_form(request, DecisionForAll)
        target = safe_next(form.next, url(request, "imports.show", batch_id=batch_id))
        count = await imports.set_decision_for_all(user, batch_id, form.all)
        label = imports.DECISION_LABELS.get(form.all, "")
        return redirect(request, target, f"« {label} » appliqué à {count} ligne(s) signalée(s).")

    @post("/confirmer", name="imports.confirm")
    async def confirm(self, request: Request, batch_id: FromPath[int]) -> Response:
        token = await imports.confirm(current_user(request), batch_id, request.app.state.redis)
        message = "Import lancé : les comptes sont en cours de création." if token else None
        return redirect(request, url(request, "imports.show", batch_id=batch_id), message, "info")


HANDLERS = [ImportUploadController, ImportBatchController]
