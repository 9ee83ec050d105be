"""« Conservation des données » (the retention periods, with the last daily run's report) and
« Registre des traitements » (issue 25), for administrators."""

from __future__ import annotations

import json

from litestar import Controller, Request, get, post
from litestar.response import Response, Template

from app.dates import local_now
from app.http.forms import as_values, read_form
from app.http.responder import redirect, render, url
from app.jobs import kinds
from app.services.errors import ValidationFailed
from app.services.retention import job, register, settings as retention
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


HANDLERS = [RetentionController]
