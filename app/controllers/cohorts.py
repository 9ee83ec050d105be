"""Gérer les cohortes (SPEC C2): list, create, edit, delete, members with the two-list selector."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Response, Template

from app.http.forms import as_values, read_form
from app.http.responder import confirm_page, redirect, render, url
from app.http.tableview import table_view
from app.http.twolists import Notice, two_lists_page, two_lists_post
from app.http.web import current_user
from app.lists.cohorts import COHORTS
from app.services import enrolments
from app.services.errors import ValidationFailed
from app.services.roles import ADMIN, GED, GET
from app.services.scope import require_establishment
from app.tables.cohorts import Cohort

MANAGERS = (ADMIN, GED, GET)


class EstablishmentCohortsController(Controller):
    path = "/etablissements/{establishment_id:int}/cohortes"
    opt = {"roles": MANAGERS}

    @get("/", name="cohorts.index")
    async def index(self, request: Request, establishment_id: FromPath[int]) -> Response:
        establishment = await require_establishment(current_user(request), establishment_id)
        return await table_view(
            request, COHORTS, "cohorts/list.html", "cohorts/_list.html",
            {"establishment": establishment, "url": url(request, "cohorts.index", establishment_id=establishment_id)},
            extra=Cohort.establishment == establishment_id,
        )

    @get("/nouvelle", name="cohorts.new")
    async def form(self, request: Request, establishment_id: FromPath[int]) -> Template:
        establishment = await require_establishment(current_user(request), establishment_id)
        return render(request, "cohorts/form.html", {"establishment": establishment, "values": {"visible": True},
                                                     "errors": {}, "cohort": None})

    @post("/nouvelle", name="cohorts.create")
    async def create(self, request: Request, establishment_id: FromPath[int]) -> Response:
        user = current_user(request)
        establishment = await require_establishment(user, establishment_id)
        form = await read_form(request, enrolments.CohortForm)
        try:
            cohort_id = await enrolments.save_cohort(user, establishment_id, form)
        except ValidationFailed as invalid:
            return render(request, "cohorts/form.html", {"establishment": establishment, "values": as_values(form),
                                                         "errors": invalid.errors, "cohort": None}, status_code=422)
        return redirect(request, url(request, "cohorts.members", cohort_id=cohort_id),
                        "Cohorte enregistrée : ajoutez ses membres.")


class CohortController(Controller):
    path = "/cohortes/{cohort_id:int}"
    opt = {"roles": MANAGERS}

    @get("/modifier", name="cohorts.edit")
    async def edit_form(self, request: Request, cohort_id: FromPath[int]) -> Template:
        user = current_user(request)
        cohort = await enrolments.cohort_in_scope(user, cohort_id)
        establishment = await require_establishment(user, cohort["establishment"])
        return render(request, "cohorts/form.html", {"establishment": establishment, "values": cohort, "errors": {},
                                                     "cohort": cohort})

    @post("/modifier", name="cohorts.update")
    async def edit(self, request: Request, cohort_id: FromPath[int]) -> Response:
        user = current_user(request)
        cohort = await enrolments.cohort_in_scope(user, cohort_id)
        form = await read_form(request, enrolments.CohortForm)
        try:
            await enrolments.save_cohort(user, cohort["establishment"], form, cohort_id)
        except ValidationFailed as invalid:
            establishment = await require_establishment(user, cohort["establishment"])
            return render(request, "cohorts/form.html", {"establishment": establishment, "values": as_values(form),
                                                         "errors": invalid.errors, "cohort": cohort}, status_code=422)
        return redirect(request, url(request, "cohorts.index", establishment_id=cohort["establishment"]),
                        "Cohorte enregistrée.")

    async def _in_use(self, request, cohort, synced, status_code):
        """A cohort its sessions still use: back on the cohort's page, with why and a link to each
        session's participants (where its sync method is removed), never an error page."""
        establishment = await require_establishment(current_user(request), cohort["establishment"])
        return render(request, "cohorts/form.html", {"establishment": establishment, "values": cohort, "errors": {},
                                                     "cohort": cohort, "in_use": synced}, status_code=status_code)

    @get("/supprimer", name="cohorts.confirm_delete")
    async def confirm_delete(self, request: Request, cohort_id: FromPath[int]) -> Response:
        cohort = await enrolments.cohort_in_scope(current_user(request), cohort_id)
        back = url(request, "cohorts.index", establishment_id=cohort["establishment"])
        synced = await enrolments.synced_sessions(cohort_id)
        if synced:
            # Said before the click: what would happen to those enrolments is the manager's call.
            return await self._in_use(request, cohort, synced, 200)
        return confirm_page(request, f"Supprimer la cohorte « {cohort['name']} » ?", back,
                            details=["Ses membres restent des utilisateurs de l'établissement ; seule la cohorte disparaît."])

    @post("/supprimer", name="cohorts.delete")
    async def delete(self, request: Request, cohort_id: FromPath[int]) -> Response:
        try:
            cohort = await enrolments.delete_cohort(current_user(request), cohort_id)
        except enrolments.CohortInUse as in_use:
            return await self._in_use(request, in_use.cohort, await enrolments.synced_sessions(cohort_id), 409)
        return redirect(request, url(request, "cohorts.index", establishment_id=cohort["establishment"]),
                        "Cohorte supprimée.")

    @get("/membres", name="cohorts.members")
    async def members_page(self, request: Request, cohort_id: FromPath[int], q_current: FromQuery[str | None] = None,
                           q_potential: FromQuery[str | None] = None) -> Template:
        cohort = await enrolments.cohort_in_scope(current_user(request), cohort_id)
        return await self._members(request, cohort, q_current or "", q_potential or "")

    async def _members(self, request, cohort, q_current, q_potential, notice=None):
        return two_lists_page(
            request, "cohorts/members.html", cohort=cohort,
            current=await enrolments.members(cohort["id"], q_current),
            potential=await enrolments.establishment_learners(
                cohort["establishment"], enrolments.member_ids(cohort["id"]), q_potential),
            titles=("Utilisateurs actuels", "Utilisateurs potentiels"),
            action=url(request, "cohorts.change_members", cohort_id=cohort["id"]),
            q_current=q_current, q_potential=q_potential, notice=notice,
        )

    @post("/membres", name="cohorts.change_members")
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

        async def page(q_current: str, q_potential: str, notice: Notice):
            return await self._members(request, cohort, q_current, q_potential, notice)

        return await two_lists_post(request, add=add, remove=remove, page=page,
                                    back=url(request, "cohorts.members", cohort_id=cohort_id))


HANDLERS = [EstablishmentCohortsController, CohortController]
