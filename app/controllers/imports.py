"""Créer des comptes (via import CSV): upload, preview with decisions, confirm, progress, report."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath
from litestar.response import Response, Template

from app.datatable import Col, DataTable, Filter
from app.services import imports, progress
from app.services.roles import ADMIN, GED, GET
from app.services.scope import require_establishment
from app.settings import get_settings
from app.tables.imports import ImportRow
from app.http.tableview import table_view
from app.lists import register
from app.http.responder import render
from app.http.web import current_user, safe_next
from app.http.responder import redirect
from app.http.forms import form_data

STATUS_LABELS = {"ok": "Prête", "problem": "À décider", "error": "Erreur"}
OUTCOME_LABELS = {"created": "Créé", "updated": "Mis à jour", "skipped": "Ignoré", "failed": "Échec", "": ""}



IMPORT_ROWS = register(
    DataTable(
        name="import_rows",
        table=ImportRow,
        select=(
            ImportRow.id, ImportRow.line, ImportRow.first_name, ImportRow.last_name, ImportRow.email,
            ImportRow.matricule, ImportRow.username, ImportRow.cohorts, ImportRow.status, ImportRow.problems,
            ImportRow.decision, ImportRow.allowed, ImportRow.outcome, ImportRow.outcome_message, ImportRow.batch,
        ),
        columns=(
            Col("line", "Ligne", ImportRow.line),
            Col("last_name", "Prénom / Nom", ImportRow.last_name, export=lambda r: f"{r['first_name']} {r['last_name']}"),
            Col("email", "Adresse de courriel", ImportRow.email),
            Col("matricule", "Matricule", ImportRow.matricule),
            Col("username", "Nom d'utilisateur", ImportRow.username),
            Col("cohorts", "Cohortes", export=lambda r: ", ".join(r["cohorts"].split("\n")) if r["cohorts"] else ""),
            Col("status", "État", ImportRow.status, export=lambda r: STATUS_LABELS.get(r["status"], r["status"])),
            Col("problems", "Problèmes", export=lambda r: " ".join(r["problems"].split("\n"))),
            Col("decision", "Décision", export=lambda r: imports.DECISION_LABELS.get(r["decision"], r["decision"])),
            Col("outcome", "Résultat", ImportRow.outcome,
                export=lambda r: " ".join(x for x in (OUTCOME_LABELS.get(r["outcome"], r["outcome"]), r["outcome_message"]) if x)),
        ),
        filters=(
            Filter("etat", "État", lambda v: ImportRow.status == v if v in STATUS_LABELS else None, kind="select",
                   options=list(STATUS_LABELS.items())),
            Filter("resultat", "Résultat", lambda v: ImportRow.outcome == v if v in OUTCOME_LABELS else None,
                   kind="select", options=[(k, v) for k, v in OUTCOME_LABELS.items() if k]),
        ),
        default_sort="line",
        scope_column=ImportRow.batch.establishment,
        export_filename="rapport_import",
    )
)


class ImportUploadController(Controller):
    path = "/etablissements/{establishment_id:int}/import"
    opt = {"roles": (ADMIN, GED, GET)}
    # Twice the largest accepted file: a file a bit too big still gets the import's own message.
    request_max_body_size = 2 * get_settings().import_max_bytes + 1024 * 1024

    def _page(self, request, establishment, error=None, status_code=200):
        from app.settings import get_settings

        settings = get_settings()
        return render(
            request, "imports/upload.html",
            {"establishment": establishment, "error": error, "expected": imports.EXPECTED_TEXT,
             "max_mb": settings.import_max_bytes // 1_048_576, "max_rows": settings.import_max_rows},
            status_code=status_code,
        )

    @get("/")
    async def form(self, request: Request, establishment_id: FromPath[int]) -> Template:
        establishment = await require_establishment(current_user(request), establishment_id)
        return self._page(request, establishment)

    @post("/")
    async def upload(self, request: Request, establishment_id: FromPath[int]) -> Response:
        user = current_user(request)
        establishment = await require_establishment(user, establishment_id)
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return self._page(request, establishment, "Choisissez un fichier CSV (ou .xlsx) à importer.", 422)
        content = await upload.read()
        try:
            batch_id = await imports.create_batch(user, establishment_id, upload.filename, content)
        except imports.ImportRejected as rejected:
            return self._page(request, establishment, rejected.message, 422)
        return redirect(request, f"/imports/{batch_id}")


class ImportBatchController(Controller):
    path = "/imports/{batch_id:int}"
    opt = {"roles": (ADMIN, GED, GET)}

    @get("/")
    async def show(self, request: Request, batch_id: FromPath[int]) -> Response:
        user = current_user(request)
        batch = await imports.batch_in_scope(user, batch_id)
        context = {
            "batch": batch,
            "summary": await imports.batch_summary(batch_id),
            "decision_labels": imports.DECISION_LABELS,
            "status_labels": STATUS_LABELS,
            "outcome_labels": OUTCOME_LABELS,
            "job": await progress.get(request.app.state.redis, batch["token"]) if batch["token"] else None,
            "url": f"/imports/{batch_id}",
        }
        return await table_view(
            request, IMPORT_ROWS, "imports/batch.html", "imports/_rows.html", context,
            extra=ImportRow.batch == batch_id,
        )

    @post("/lignes/{row_id:int}")
    async def decide(self, request: Request, batch_id: FromPath[int], row_id: FromPath[int]) -> Response:
        data = await form_data(request)
        row = await imports.set_decision(current_user(request), batch_id, row_id, str(data.get("decision", "")))
        if getattr(request, "htmx", False):
            return Template("imports/_decision.html", context={
                "row": row, "decision_labels": imports.DECISION_LABELS, "url": f"/imports/{batch_id}", "saved": True,
                "batch": {"status": "preview"}}, status_code=200)
        return redirect(request, safe_next(str(data.get("next", "")), f"/imports/{batch_id}"))

    @post("/decisions")
    async def decide_all(self, request: Request, batch_id: FromPath[int]) -> Response:
        user = current_user(request)
        data = await form_data(request)
        target = safe_next(str(data.get("next", "")), f"/imports/{batch_id}")
        decision = str(data.get("all", ""))
        count = await imports.set_decision_for_all(user, batch_id, decision)
        label = imports.DECISION_LABELS.get(decision, "")
        return redirect(request, target, f"« {label} » appliqué à {count} ligne(s) signalée(s).")

    @post("/confirmer")
    async def confirm(self, request: Request, batch_id: FromPath[int]) -> Response:
        token = await imports.confirm(current_user(request), batch_id, request.app.state.redis)
        message = "Import lancé : les comptes sont en cours de création." if token else None
        return redirect(request, f"/imports/{batch_id}", message, "info")


HANDLERS = [ImportUploadController, ImportBatchController]
