"""Accessibility (RGAA, issue 25): the declaration page and the « Signaler un problème
d'accessibilité » form, public (no login, plain forms: JS off works, CSRF, rate-limited per
address); the administrator edits the declaration at /administration/accessibilite."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromQuery
from litestar.response import Response, Template

from app.http.forms import as_values, read_form
from app.http.responder import redirect, render, url
from app.http.web import rate_limit
from app.services import accessibility, outbox
from app.services.errors import ValidationFailed
from app.services.ratelimit import Limit
from app.services.roles import ADMIN

# A person reports a problem or two; more from one address within an hour is not a person.
REPORTS = Limit("accessibility-report", 5, 3600)


class AccessibilityController(Controller):
    path = "/accessibilite"
    opt = {"public": True}

    @get("/", name="accessibility.declaration")
    async def declaration(self, request: Request) -> Template:
        return render(request, "accessibility/declaration.html", {
            "declaration": await accessibility.declaration(), "status": accessibility.STATUS})

    @get("/signaler", name="accessibility.report")
    async def report_form(self, request: Request, page: FromQuery[str] = "") -> Template:
        return render(request, "accessibility/report.html", {"values": {"page": page[:500]}, "errors": {}})

    @post("/signaler", name="accessibility.send_report")
    async def send_report(self, request: Request) -> Response:
        await rate_limit(request, REPORTS)
        form = await read_form(request, accessibility.ReportForm)
        try:
            mail_id = await accessibility.report(form)
        except ValidationFailed as invalid:
            return render(request, "accessibility/report.html", {"values": as_values(form), "errors": invalid.errors},
                          status_code=422)
        await outbox.dispatch(request.app.state.redis, [mail_id])
        return redirect(request, url(request, "accessibility.declaration"),
                        "Merci : votre signalement a été transmis à l'équipe qui exploite Tremplin.")


class AccessibilitySettingsController(Controller):
    path = "/administration/accessibilite"
    opt = {"roles": (ADMIN,)}

    @get("/", name="accessibility.settings")
    async def form(self, request: Request) -> Template:
        values = {"declaration": await accessibility.declaration(), "contact": await accessibility.contact()}
        return render(request, "accessibility/settings.html", {"values": values, "errors": {}})

    @post("/", name="accessibility.save_settings")
    async def save(self, request: Request) -> Response:
        form = await read_form(request, accessibility.DeclarationForm)
        try:
            await accessibility.save_declaration(form)
        except ValidationFailed as invalid:
            return render(request, "accessibility/settings.html", {"values": as_values(form), "errors": invalid.errors},
                          status_code=422)
        return redirect(request, url(request, "accessibility.settings"), "Déclaration d'accessibilité enregistrée.")


HANDLERS = [AccessibilityController, AccessibilitySettingsController]
