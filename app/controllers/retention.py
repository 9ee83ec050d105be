"""« Conservation des données » (the retention periods, with the last daily run's report) and
« Registre des traitements » (issue 25), for administrators."""

from __future__ import annotations

import json

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Response, Template

from app.dates import local_now
from app.http.forms import as_values, read_form
from app.http.responder import redirect, render, url
from app.http.tableview import table_view
from app.http.web import current_user
from app.lists.privacy import ERASURE_REQUESTS
from app.jobs import kinds
from app.services.errors import ValidationFailed
from app.services.retention import erasure, job, register, settings as retention
from app.services.roles import ADMIN
from app.tables.jobs import JobRun


async def last_run() -> dict | None:
    """The latest daily run that finished: when, and its report in French."""
    row = await JobRun.select(JobRun.finished_at, JobRun.status, JobRun.result, JobRun.error).where(
        (JobRun.kind == kinds.RETENTION.name) & JobRun.finished_at.is_not_null()).order_by(
        JobRun.finished_at, ascending=False).first()
    if row is None:
        return None
    try:
        report = json.loads(row["result"] or "{}")
    except ValueError:
        report = {}
    return {"finished_at": row["finished_at"], "ok": row["status"] == "succeeded",
            "lines": job.describe(report if isinstance(report, dict) else {})}


class RetentionController(Controller):
    path = "/admin/donnees"
    opt = {"roles": (ADMIN,)}

    async def _page(self, request, values=None, errors=None, status_code=200):
        return render(request, "admin/retention.html", {
            "values": values if values is not None else await retention.periods(), "errors": errors or {},
            "periods": retention.PERIODS, "job_log_days": retention.job_log_days(), "last_run": await last_run(),
        }, status_code=status_code)

    @get("/conservation", name="retention.settings")
    async def show(self, request: Request) -> Template:
        return await self._page(request)

    @post("/conservation", name="retention.save")
    async def save(self, request: Request) -> Response:
        form = await read_form(request, retention.RetentionForm)
        try:
            await retention.save(form)
        except ValidationFailed as invalid:
            return await self._page(request, as_values(form), invalid.errors, 422)
        return redirect(request, url(request, "retention.settings"), "Durées de conservation enregistrées.")

    @get("/registre", name="retention.register")
    async def register(self, request: Request) -> Template:
        return render(request, "admin/register.html", {
            "processings": await register.processings(), "controller": await register.controller(),
            "today": local_now().date()})


    @get("/suppressions", name="erasure.index")
    async def erasure_requests(self, request: Request) -> Response:
        return await table_view(request, ERASURE_REQUESTS, "admin/erasure_requests.html",
                                "admin/_erasure_requests.html", {"status_labels": erasure.STATUS_LABELS})

    async def _request_page(self, request, request_id, values=None, errors=None, status_code=200):
        row = await erasure.assess(request_id)
        return render(request, "admin/erasure_request.html", {
            "row": row, "status_labels": erasure.STATUS_LABELS, "errors": errors or {},
            "values": values or {"answer": row["default_answer"]}}, status_code=status_code)

    @get("/suppressions/{request_id:int}", name="erasure.show")
    async def erasure_request(self, request: Request, request_id: FromPath[int]) -> Template:
        return await self._request_page(request, request_id)

    @post("/suppressions/{request_id:int}", name="erasure.handle")
    async def handle(self, request: Request, request_id: FromPath[int]) -> Response:
        form = await read_form(request, erasure.HandleForm)
        try:
            status = await erasure.handle(current_user(request), request_id, form.decision, form.answer)
        except ValidationFailed as invalid:
            return await self._request_page(request, request_id, as_values(form), invalid.errors, 422)
        return redirect(request, url(request, "erasure.index"),
                        f"Demande traitée : {erasure.STATUS_LABELS[status].lower()}. La réponse est envoyée.")


HANDLERS = [RetentionController]
