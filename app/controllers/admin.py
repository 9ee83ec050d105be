"""Administration: delegations, establishments (administrator) and role assignments (administrator, GED)."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Response, Template

from app.http.forms import as_values, read_form
from app.http.responder import confirm_page, redirect, render, url
from app.http.tableview import table_view
from app.http.web import current_user
from app.lists.admin import DELEGATIONS, ESTABLISHMENTS, ROLES
from app.lists.audit import AUDIT
from app.services import audit, org
from app.services.errors import ValidationFailed
from app.services.retention import settings as retention_settings
from app.services.roles import ADMIN, DELEGATION_ROLES, ESTABLISHMENT_ROLES, GED, ROLE_LABELS
from app.services.scope import delegation_choices, establishment_choices


class DelegationController(Controller):
    path = "/admin/delegations"
    opt = {"roles": (ADMIN,)}

    @get("/", name="delegations.index")
    async def index(self, request: Request) -> Response:
        return await table_view(request, DELEGATIONS, "admin/delegations.html", "admin/_delegations.html")

    def _form(self, request, values, errors, delegation_id, status_code=200):
        return render(request, "admin/delegation_form.html", {"values": values, "errors": errors,
                                                              "item_id": delegation_id}, status_code=status_code)

    @get(["/nouvelle", "/{delegation_id:int}/modifier"], name="delegations.form")
    async def form(self, request: Request, delegation_id: FromPath[int | None] = None) -> Template:
        values = await org.get_delegation(delegation_id) if delegation_id else {}
        return self._form(request, values, {}, delegation_id)

    @post(["/nouvelle", "/{delegation_id:int}/modifier"], name="delegations.save")
    async def save(self, request: Request, delegation_id: FromPath[int | None] = None) -> Response:
        form = await read_form(request, org.DelegationForm)
        try:
            await org.save_delegation(form, delegation_id)
        except ValidationFailed as invalid:
            return self._form(request, as_values(form), invalid.errors, delegation_id, status_code=422)
        return redirect(request, url(request, "delegations.index"), "Délégation enregistrée.")

    @get("/{delegation_id:int}/supprimer", name="delegations.confirm_delete")
    async def confirm_delete(self, request: Request, delegation_id: FromPath[int]) -> Template:
        row = await org.get_delegation(delegation_id)
        return confirm_page(request, f"Supprimer la délégation {row['code']} — {row['name']} ?",
                            url(request, "delegations.index"))

    @post("/{delegation_id:int}/supprimer", name="delegations.delete")
    async def delete(self, request: Request, delegation_id: FromPath[int]) -> Response:
        await org.delete_delegation(delegation_id)
        return redirect(request, url(request, "delegations.index"), "Délégation supprimée.")


class EstablishmentAdminController(Controller):
    path = "/admin/etablissements"
    opt = {"roles": (ADMIN,)}

    @get("/", name="establishments.index")
    async def index(self, request: Request) -> Response:
        return await table_view(request, ESTABLISHMENTS, "admin/establishments.html", "admin/_establishments.html")

    async def _form(self, request, values, errors, item_id, status_code=200):
        return render(
            request,
            "admin/establishment_form.html",
            {"values": values, "errors": errors, "item_id": item_id,
             "delegations": await delegation_choices(current_user(request))},
            status_code=status_code,
        )

    @get(["/nouveau", "/{establishment_id:int}/modifier"], name="establishments.form")
    async def form(self, request: Request, establishment_id: FromPath[int | None] = None) -> Template:
        values = await org.get_establishment(establishment_id) if establishment_id else {}
        return await self._form(request, values, {}, establishment_id)

    @post(["/nouveau", "/{establishment_id:int}/modifier"], name="establishments.save")
    async def save(self, request: Request, establishment_id: FromPath[int | None] = None) -> Response:
        form = await read_form(request, org.EstablishmentForm)
        try:
            await org.save_establishment(form, establishment_id)
        except ValidationFailed as invalid:
            return await self._form(request, as_values(form), invalid.errors, establishment_id, status_code=422)
        return redirect(request, url(request, "establishments.index"), "Établissement enregistré.")

    @get("/{establishment_id:int}/supprimer", name="establishments.confirm_delete")
    async def confirm_delete(self, request: Request, establishment_id: FromPath[int]) -> Template:
        row = await org.get_establishment(establishment_id)
        return confirm_page(request, f"Supprimer l'établissement {row['code']} — {row['name']} ?",
                            url(request, "establishments.index"))

    @post("/{establishment_id:int}/supprimer", name="establishments.delete")
    async def delete(self, request: Request, establishment_id: FromPath[int]) -> Response:
        await org.delete_establishment(establishment_id)
        return redirect(request, url(request, "establishments.index"), "Établissement supprimé.")


class RoleController(Controller):
    path = "/roles"
    opt = {"roles": (ADMIN, GED)}

    async def _context(self, request, values=None, errors=None):
        user = current_user(request)
        return {
            "values": values or {},
            "errors": errors or {},
            "grantable": [(r, ROLE_LABELS[r]) for r in org.grantable_roles(user)],
            "delegations": await delegation_choices(user),
            "establishments": await establishment_choices(user),
            "delegation_roles": DELEGATION_ROLES,
            "establishment_roles": ESTABLISHMENT_ROLES,
        }

    @get("/", name="roles.index")
    async def index(self, request: Request) -> Response:
        return await table_view(request, ROLES, "admin/roles.html", "admin/_roles.html", await self._context(request))

    @post("/", name="roles.grant")
    async def grant(self, request: Request) -> Response:
        form = await read_form(request, org.GrantForm)
        try:
            await org.grant_role(current_user(request), form)
        except ValidationFailed as invalid:
            table_page = await ROLES.fetch(current_user(request), dict(request.query_params))
            context = await self._context(request, as_values(form), invalid.errors)
            return render(request, "admin/roles.html", {"table": table_page, **context}, status_code=422)
        return redirect(request, url(request, "roles.index"), "Rôle attribué.")

    @get("/{assignment_id:int}/retirer", name="roles.confirm_revoke")
    async def confirm_revoke(self, request: Request, assignment_id: FromPath[int]) -> Template:
        row = await org.assignment_for(current_user(request), assignment_id)
        return confirm_page(
            request,
            f"Retirer le rôle « {ROLE_LABELS.get(row['role'], row['role'])} » à {row['username']} ?",
            url(request, "roles.index"),
            "Retirer",
        )

    @post("/{assignment_id:int}/retirer", name="roles.revoke")
    async def revoke(self, request: Request, assignment_id: FromPath[int]) -> Response:
        await org.revoke_role(current_user(request), assignment_id)
        return redirect(request, url(request, "roles.index"), "Rôle retiré.")


class AuditController(Controller):
    """« Journal d'audit »: the sensitive actions (issue 25), filterable and exportable, administrators only."""

    path = "/admin/journal"
    opt = {"roles": (ADMIN,)}

    @get("/", name="audit.index")
    async def index(self, request: Request) -> Response:
        return await table_view(request, AUDIT, "admin/journal.html", "admin/_journal.html", {
            "action_labels": audit.ACTION_LABELS, "describe": audit.describe,
            "retention_months": await retention_settings.period(retention_settings.AUDIT_MONTHS)})


HANDLERS = [DelegationController, EstablishmentAdminController, RoleController, AuditController]
