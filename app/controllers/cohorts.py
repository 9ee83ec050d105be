"""Gérer les cohortes (SPEC C2): list, create, edit, delete, members with the two-list selector."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Response, Template
from piccolo.query.functions.aggregate import Count

from app.datatable import Col, DataTable
from app.services import enrolments
from app.services.errors import ValidationFailed
from app.services.roles import ADMIN, GED, GET
from app.services.scope import require_establishment
from app.tables.catalogue import CohortSync
from app.tables.cohorts import Cohort, CohortMember
from app.tableview import register, table_view
from app.templating import confirm_page, render
from app.twolists import two_lists_page, two_lists_post
from app.web import current_user, form_data, redirect

MANAGERS = (ADMIN, GED, GET)


async def _member_counts(rows: list[dict]) -> list[dict]:
    """One grouped query for the member and session counts of the page's cohorts."""
    ids = [r["id"] for r in rows] or [-1]
    members = await CohortMember.select(CohortMember.cohort, Count(CohortMember.id, alias="n")).where(
        CohortMember.cohort.is_in(ids)).group_by(CohortMember.cohort)
    syncs = await CohortSync.select(CohortSync.cohort, Count(CohortSync.id, alias="n")).where(
        CohortSync.cohort.is_in(ids)).group_by(CohortSync.cohort)
    m, s = {r["cohort"]: r["n"] for r in members}, {r["cohort"]: r["n"] for r in syncs}
    for r in rows:
        r["members"], r["sessions"] = m.get(r["id"], 0), s.get(r["id"], 0)
    return rows


COHORTS = register(
    DataTable(
        name="cohorts",
        table=Cohort,
        select=(Cohort.id, Cohort.name, Cohort.visible, Cohort.establishment),
        columns=(
            Col("name", "Nom de la cohorte", Cohort.name),
            Col("visible", "Visible", Cohort.visible, export=lambda r: "Oui" if r["visible"] else "Non"),
            Col("members", "Membres"),
            Col("sessions", "Sessions synchronisées"),
        ),
        default_sort="name",
        scope_column=Cohort.establishment,
        export_filename="cohortes",
        enrich=_member_counts,
    )
)


class EstablishmentCohortsController(Controller):
    path = "/etablissements/{establishment_id:int}/cohortes"
    opt = {"roles": MANAGERS}

    @get("/")
    async def index(self, request: Request, establishment_id: FromPath[int]) -> Response:
        establishment = await require_establishment(current_user(request), establishment_id)
        return await table_view(
            request, COHORTS, "cohorts/list.html", "cohorts/_list.html",
            {"establishment": establishment, "url": f"/etablissements/{establishment_id}/cohortes"},
            extra=Cohort.establishment == establishment_id,
        )

    @get("/nouvelle")
    async def form(self, request: Request, establishment_id: FromPath[int]) -> Template:
        establishment = await require_establishment(current_user(request), establishment_id)
        return render(request, "cohorts/form.html", {"establishment": establishment, "values": {"visible": "1"},
                                                     "errors": {}, "cohort": None})

    @post("/nouvelle")
    async def create(self, request: Request, establishment_id: FromPath[int]) -> Response:
        user = current_user(request)
        establishment = await require_establishment(user, establishment_id)
        data = await form_data(request)
        try:
            cohort_id = await enrolments.save_cohort(user, establishment_id, data)
        except ValidationFailed as invalid:
            return render(request, "cohorts/form.html", {"establishment": establishment, "values": data,
                                                         "errors": invalid.errors, "cohort": None}, status_code=422)
        return redirect(request, f"/cohortes/{cohort_id}/membres", "Cohorte enregistrée : ajoutez ses membres.")


class CohortController(Controller):
    path = "/cohortes/{cohort_id:int}"
    opt = {"roles": MANAGERS}

    @get("/modifier")
    async def edit_form(self, request: Request, cohort_id: FromPath[int]) -> Template:
        user = current_user(request)
        cohort = await enrolments.cohort_in_scope(user, cohort_id)
        establishment = await require_establishment(user, cohort["establishment"])
        values = {"name": cohort["name"], "visible": "1" if cohort["visible"] else ""}
        return render(request, "cohorts/form.html", {"establishment": establishment, "values": values, "errors": {},
                                                     "cohort": cohort})

    @post("/modifier")
    async def edit(self, request: Request, cohort_id: FromPath[int]) -> Response:
        user = current_user(request)
        cohort = await enrolments.cohort_in_scope(user, cohort_id)
        data = await form_data(request)
        try:
            await enrolments.save_cohort(user, cohort["establishment"], data, cohort_id)
        except ValidationFailed as invalid:
            establishment = await require_establishment(user, cohort["establishment"])
            return render(request, "cohorts/form.html", {"establishment": establishment, "values": data,
                                                         "errors": invalid.errors, "cohort": cohort}, status_code=422)
        return redirect(request, f"/etablissements/{cohort['establishment']}/cohortes", "Cohorte enregistrée.")

    @get("/supprimer")
    async def confirm_delete(self, request: Request, cohort_id: FromPath[int]) -> Template:
        cohort = await enrolments.cohort_in_scope(current_user(request), cohort_id)
        return confirm_page(request, f"Supprimer la cohorte « {cohort['name']} » ?",
                            f"/etablissements/{cohort['establishment']}/cohortes")

    @post("/supprimer")
    async def delete(self, request: Request, cohort_id: FromPath[int]) -> Response:
        cohort = await enrolments.delete_cohort(current_user(request), cohort_id)
        return redirect(request, f"/etablissements/{cohort['establishment']}/cohortes", "Cohorte supprimée.")

    @get("/membres")
    async def members_page(self, request: Request, cohort_id: FromPath[int], q_current: FromQuery[str | None] = None,
                           q_potential: FromQuery[str | None] = None) -> Template:
        cohort = await enrolments.cohort_in_scope(current_user(request), cohort_id)
        return await self._members(request, cohort, q_current or "", q_potential or "")

    async def _members(self, request, cohort, q_current, q_potential, message=None):
        return two_lists_page(
            request, "cohorts/members.html", cohort=cohort,
            current=await enrolments.members(cohort["id"], q_current),
            potential=await enrolments.establishment_learners(
                cohort["establishment"], enrolments.member_ids(cohort["id"]), q_potential),
            titles=("Utilisateurs actuels", "Utilisateurs potentiels"), action=f"/cohortes/{cohort['id']}/membres",
            q_current=q_current, q_potential=q_potential, message=message,
        )

    @post("/membres")
    async def change_members(self, request: Request, cohort_id: FromPath[int]) -> Response:
        user = current_user(request)
        cohort = await enrolments.cohort_in_scope(user, cohort_id)

        async def add(ids):
            count = await enrolments.add_members(user, cohort, ids)
            if count:  # every session that syncs this cohort follows, in the background
                await enrolments.request_sync(request.app.state.redis, cohort_id)
            return f"{count} membre(s) ajouté(s)."

        async def remove(ids):
            count = await enrolments.remove_members(user, cohort, ids)
            if count:
                await enrolments.request_sync(request.app.state.redis, cohort_id)
            return f"{count} membre(s) retiré(s)."

        return await two_lists_post(
            request, add=add, remove=remove, back=f"/cohortes/{cohort_id}/membres",
            page=lambda q_current, q_potential, message: self._members(request, cohort, q_current, q_potential, message),
        )


HANDLERS = [EstablishmentCohortsController, CohortController]
