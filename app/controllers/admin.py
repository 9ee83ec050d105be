"""Administration: delegations, establishments (administrator) and role assignments (administrator, GED)."""

from __future__ import annotations

from litestar.params import FromPath
from litestar import Controller, Request, get, post
from litestar.response import Response, Template

from app.datatable import Col, DataTable, Filter
from app.services import org
from app.services.errors import NotFound, ValidationFailed
from app.services.roles import ADMIN, DELEGATION_ROLES, ESTABLISHMENT_ROLES, GED, ROLE_LABELS
from app.services.scope import delegation_choices, establishment_choices
from app.services.text import fold
from app.tableview import register, table_view
from app.tables.accounts import RoleAssignment
from app.tables.org import Delegation, Establishment
from app.templating import confirm_page, render
from app.web import current_user, form_data, redirect


def _int_or_none(value: str):
    try:
        return int(value)
    except ValueError:
        return None


DELEGATIONS = register(
    DataTable(
        name="delegations",
        table=Delegation,
        select=(Delegation.id, Delegation.code, Delegation.name),
        columns=(Col("code", "Code", Delegation.code), Col("name", "Nom", Delegation.name)),
        filters=(
            Filter("q", "Code ou nom", lambda v: Delegation.code.ilike(f"%{v}%") | Delegation.name.ilike(f"%{v}%")),
        ),
        default_sort="code",
        export_filename="delegations",
    )
)

ESTABLISHMENTS = register(
    DataTable(
        name="establishments",
        table=Establishment,
        select=(
            Establishment.id,
            Establishment.code,
            Establishment.name,
            Establishment.delegation.code.as_alias("delegation_code"),
            Establishment.delegation.name.as_alias("delegation_name"),
        ),
        columns=(
            Col("code", "Code", Establishment.code),
            Col("name", "Nom", Establishment.name),
            Col("delegation_code", "Délégation", Establishment.delegation.code),
        ),
        filters=(
            Filter(
                "q", "Code ou nom", lambda v: Establishment.code.ilike(f"%{v}%") | Establishment.name.ilike(f"%{v}%")
            ),
            Filter(
                "delegation",
                "Délégation",
                lambda v: Establishment.delegation == _int_or_none(v) if _int_or_none(v) else None,
                kind="select",
                options=delegation_choices,
            ),
        ),
        default_sort="code",
        scope_column=Establishment.id,
        export_filename="etablissements",
    )
)

ROLES = register(
    DataTable(
        name="roles",
        table=RoleAssignment,
        select=(
            RoleAssignment.id,
            RoleAssignment.role,
            RoleAssignment.user.username.as_alias("username"),
            RoleAssignment.user.first_name.as_alias("first_name"),
            RoleAssignment.user.last_name.as_alias("last_name"),
            RoleAssignment.delegation.code.as_alias("delegation_code"),
            RoleAssignment.establishment.code.as_alias("establishment_code"),
            RoleAssignment.establishment.name.as_alias("establishment_name"),
            RoleAssignment.created_at,
        ),
        columns=(
            Col("last_name", "Nom", RoleAssignment.user.last_name, export=lambda r: f"{r['first_name']} {r['last_name']}"),
            Col("username", "Nom d'utilisateur", RoleAssignment.user.username),
            Col("role", "Rôle", RoleAssignment.role, export=lambda r: ROLE_LABELS.get(r["role"], r["role"])),
            Col(
                "scope",
                "Périmètre",
                export=lambda r: r["establishment_code"] or r["delegation_code"] or "Plateforme",
            ),
        ),
        filters=(
            Filter("q", "Nom ou nom d'utilisateur", lambda v: RoleAssignment.user.search_text.like(f"%{fold(v)}%")),
            Filter(
                "role",
                "Rôle",
                lambda v: RoleAssignment.role == v if v in ROLE_LABELS else None,
                kind="select",
                options=[(k, v) for k, v in ROLE_LABELS.items()],
            ),
        ),
        default_sort="last_name",
        # A GED sees the assignments on the establishments of their delegation only.
        scope_column=RoleAssignment.establishment,
        export_filename="roles",
    )
)



class DelegationController(Controller):
    path = "/admin/delegations"
    opt = {"roles": (ADMIN,)}

    @get("/")
    async def index(self, request: Request) -> Response:
        return await table_view(request, DELEGATIONS, "admin/delegations.html", "admin/_delegations.html")

    @get(["/nouvelle", "/{delegation_id:int}/modifier"])
    async def form(self, request: Request, delegation_id: FromPath[int | None] = None) -> Template:
        values = {}
        if delegation_id:
            values = await Delegation.select().where(Delegation.id == delegation_id).first()
            if values is None:
                raise NotFound("Délégation introuvable.")
        return render(request, "admin/delegation_form.html", {"values": values, "errors": {}, "item_id": delegation_id})

    @post(["/nouvelle", "/{delegation_id:int}/modifier"])
    async def save(self, request: Request, delegation_id: FromPath[int | None] = None) -> Response:
        data = await form_data(request)
        try:
            await org.save_delegation(data, delegation_id)
        except ValidationFailed as invalid:
            return render(
                request,
                "admin/delegation_form.html",
                {"values": data, "errors": invalid.errors, "item_id": delegation_id},
                status_code=422,
            )
        return redirect(request, "/admin/delegations", "Délégation enregistrée.")

    @get("/{delegation_id:int}/supprimer")
    async def confirm_delete(self, request: Request, delegation_id: FromPath[int]) -> Template:
        row = await Delegation.select().where(Delegation.id == delegation_id).first()
        if row is None:
            raise NotFound("Délégation introuvable.")
        return confirm_page(request, f"Supprimer la délégation {row['code']} — {row['name']} ?", "/admin/delegations")

    @post("/{delegation_id:int}/supprimer")
    async def delete(self, request: Request, delegation_id: FromPath[int]) -> Response:
        await org.delete_delegation(delegation_id)
        return redirect(request, "/admin/delegations", "Délégation supprimée.")


class EstablishmentAdminController(Controller):
    path = "/admin/etablissements"
    opt = {"roles": (ADMIN,)}

    @get("/")
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

    @get(["/nouveau", "/{establishment_id:int}/modifier"])
    async def form(self, request: Request, establishment_id: FromPath[int | None] = None) -> Template:
        values = {}
        if establishment_id:
            values = await Establishment.select().where(Establishment.id == establishment_id).first()
            if values is None:
                raise NotFound("Établissement introuvable.")
        return await self._form(request, values, {}, establishment_id)

    @post(["/nouveau", "/{establishment_id:int}/modifier"])
    async def save(self, request: Request, establishment_id: FromPath[int | None] = None) -> Response:
        data = await form_data(request)
        try:
            await org.save_establishment(data, establishment_id)
        except ValidationFailed as invalid:
            return await self._form(request, data, invalid.errors, establishment_id, status_code=422)
        return redirect(request, "/admin/etablissements", "Établissement enregistré.")

    @get("/{establishment_id:int}/supprimer")
    async def confirm_delete(self, request: Request, establishment_id: FromPath[int]) -> Template:
        row = await Establishment.select().where(Establishment.id == establishment_id).first()
        if row is None:
            raise NotFound("Établissement introuvable.")
        return confirm_page(
            request, f"Supprimer l'établissement {row['code']} — {row['name']} ?", "/admin/etablissements"
        )

    @post("/{establishment_id:int}/supprimer")
    async def delete(self, request: Request, establishment_id: FromPath[int]) -> Response:
        await org.delete_establishment(establishment_id)
        return redirect(request, "/admin/etablissements", "Établissement supprimé.")


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

    @get("/")
    async def index(self, request: Request) -> Response:
        return await table_view(request, ROLES, "admin/roles.html", "admin/_roles.html", await self._context(request))

    @post("/")
    async def grant(self, request: Request) -> Response:
        data = await form_data(request)
        try:
            await org.grant_role(current_user(request), data)
        except ValidationFailed as invalid:
            table_page = await ROLES.fetch(current_user(request), dict(request.query_params))
            context = await self._context(request, data, invalid.errors)
            return render(request, "admin/roles.html", {"table": table_page, **context}, status_code=422)
        return redirect(request, "/roles", "Rôle attribué.")

    @get("/{assignment_id:int}/retirer")
    async def confirm_revoke(self, request: Request, assignment_id: FromPath[int]) -> Template:
        row = await org.assignment_for(current_user(request), assignment_id)
        return confirm_page(
            request,
            f"Retirer le rôle « {ROLE_LABELS.get(row['role'], row['role'])} » à {row['username']} ?",
            "/roles",
            "Retirer",
        )

    @post("/{assignment_id:int}/retirer")
    async def revoke(self, request: Request, assignment_id: FromPath[int]) -> Response:
        await org.revoke_role(current_user(request), assignment_id)
        return redirect(request, "/roles", "Rôle retiré.")


HANDLERS = [DelegationController, EstablishmentAdminController, RoleController]
