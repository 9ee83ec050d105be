"""Gestion des contenus et catégories: sessions of an establishment (SPEC B2), the content import
wizard (B3), "Inscrire mes utilisateurs" (C1) and the participants tab with cohort sync (C3)."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Response, Template

from app.dates import date_fr
from app.datatable import Col, DataTable, Filter
from app.services import enrolments, progress, sessions
from app.services.errors import ValidationFailed
from app.services.roles import ADMIN, GED, GET
from app.services.scope import establishment_choices, establishments_in_scope, require_establishment
from app.services.text import fold
from app.tables.catalogue import CohortSync, CourseTemplate, Enrolment, SessionActivity, TemplateActivity, TrainingSession
from app.tables.cohorts import Cohort
from app.tableview import register, table_view
from app.templating import confirm_page, render
from app.twolists import two_lists_page, two_lists_post
from app.web import current_user, form_data, form_lists, redirect

MANAGERS = (ADMIN, GED, GET)

SESSIONS = register(
    DataTable(
        name="sessions",
        table=TrainingSession,
        select=(
            TrainingSession.id, TrainingSession.full_name, TrainingSession.short_name, TrainingSession.code,
            TrainingSession.start_date, TrainingSession.end_date, TrainingSession.visible, TrainingSession.imported_at,
            TrainingSession.establishment.code.as_alias("establishment_code"),
        ),
        columns=(
            Col("full_name", "Nom de la session", TrainingSession.full_name),
            Col("code", "Code", TrainingSession.code),
            Col("start_date", "Début", TrainingSession.start_date),
            Col("end_date", "Fin", TrainingSession.end_date),
            Col("visible", "Visibilité", TrainingSession.visible,
                export=lambda r: "Afficher" if r["visible"] else "Cacher"),
        ),
        filters=(Filter("q", "Nom ou code", lambda v: TrainingSession.full_name.ilike(f"%{v}%")
                        | TrainingSession.code.ilike(f"%{v}%")),),
        default_sort="-start_date",
        scope_column=TrainingSession.establishment,
        export_filename="sessions",
    )
)

PARTICIPANTS = register(
    DataTable(
        name="participants",
        table=Enrolment,
        select=(
            Enrolment.id, Enrolment.method, Enrolment.enrolled_at, Enrolment.cohort.name.as_alias("cohort_name"),
            Enrolment.user.first_name.as_alias("first_name"), Enrolment.user.last_name.as_alias("last_name"),
            Enrolment.user.username.as_alias("username"), Enrolment.user.email.as_alias("email"),
            Enrolment.user.last_access.as_alias("last_access"),
        ),
        columns=(
            Col("last_name", "Prénom / Nom", Enrolment.user.last_name_key,
                export=lambda r: f"{r['first_name']} {r['last_name']}"),
            Col("username", "Nom d'utilisateur", Enrolment.user.username),
            Col("email", "Adresse de courriel", Enrolment.user.email),
            Col("role", "Rôle", export=lambda r: "Apprenant"),
            Col("method", "Méthode d'inscription", Enrolment.method,
                export=lambda r: "Inscription manuelle" if r["method"] == "manual" else f"Cohorte {r['cohort_name']}"),
            Col("enrolled_at", "Inscrit le", Enrolment.enrolled_at, export=lambda r: date_fr(r["enrolled_at"])),
        ),
        filters=(
            Filter("q", "Nom", lambda v: Enrolment.user.search_text.like(f"%{fold(v)}%")),
        ),
        default_sort="last_name",
        scope_column=Enrolment.session.establishment,
        base_where=lambda user, scope: Enrolment.active == True,  # noqa: E712
        export_filename="participants",
    )
)


async def _category_counts(user) -> list[dict]:
    """The seed's "Catégories de contenus": each delegation and establishment with its session count."""
    establishments = await establishments_in_scope(user)
    if not establishments:
        return []
    from piccolo.query.functions.aggregate import Count

    rows = await TrainingSession.select(TrainingSession.establishment, Count(TrainingSession.id, alias="n")).where(
        TrainingSession.establishment.is_in([e["id"] for e in establishments])
    ).group_by(TrainingSession.establishment)
    counts = {r["establishment"]: r["n"] for r in rows}
    categories, seen = [], {}
    for e in establishments:
        if e["delegation_id"] not in seen:
            seen[e["delegation_id"]] = {"name": e["delegation_name"], "code": e["delegation_code"], "count": 0,
                                        "level": 0, "id": None}
            categories.append(seen[e["delegation_id"]])
        seen[e["delegation_id"]]["count"] += counts.get(e["id"], 0)
        categories.append({"name": e["name"], "code": e["code"], "count": counts.get(e["id"], 0), "level": 1,
                           "id": e["id"]})
    return categories


async def _templates() -> list[dict]:
    return await CourseTemplate.select(CourseTemplate.id, CourseTemplate.title, CourseTemplate.code).where(
        CourseTemplate.visible == True  # noqa: E712
    ).order_by(CourseTemplate.title)


class EstablishmentSessionsController(Controller):
    path = "/etablissements/{establishment_id:int}/sessions"
    opt = {"roles": MANAGERS}

    @get("/")
    async def index(self, request: Request, establishment_id: FromPath[int]) -> Response:
        user = current_user(request)
        establishment = await require_establishment(user, establishment_id)
        return await table_view(
            request, SESSIONS, "sessions/list.html", "sessions/_list.html",
            {"establishment": establishment, "categories": await _category_counts(user),
             "url": f"/etablissements/{establishment_id}/sessions"},
            extra=TrainingSession.establishment == establishment_id,
        )

    async def _form(self, request, establishment, values, errors, status_code=200):
        user = current_user(request)
        return render(request, "sessions/form.html", {
            "establishment": establishment, "values": values, "errors": errors, "session": None,
            "templates": [(str(t["id"]), t["title"]) for t in await _templates()],
            "establishments": await establishment_choices(user),
        }, status_code=status_code)

    @get("/nouvelle")
    async def form(self, request: Request, establishment_id: FromPath[int]) -> Template:
        establishment = await require_establishment(current_user(request), establishment_id)
        return await self._form(request, establishment, {"establishment": establishment_id, "visible": "1"}, {})

    @post("/nouvelle")
    async def create(self, request: Request, establishment_id: FromPath[int]) -> Response:
        user = current_user(request)
        establishment = await require_establishment(user, establishment_id)
        data = await form_data(request)
        if data.get("action") == "propose":
            # "Proposer le nom": the seed's nomenclature from the dates and the template, then the form again.
            template = None
            if data.get("template", "").isdigit():
                template = await CourseTemplate.select(CourseTemplate.title).where(
                    CourseTemplate.id == int(data["template"])).first()
            name = sessions.propose_full_name(sessions._parse_date(data.get("start_date")),
                                              sessions._parse_date(data.get("end_date")),
                                              template["title"] if template else "")
            data["full_name"] = data["short_name"] = name
            return await self._form(request, establishment, data, {})
        try:
            session_id = await sessions.save_session(user, data)
        except ValidationFailed as invalid:
            return await self._form(request, establishment, data, invalid.errors, status_code=422)
        return redirect(request, f"/sessions/{session_id}", "Session de formation créée. Importez maintenant son contenu.")


class SessionController(Controller):
    path = "/sessions/{session_id:int}"
    opt = {"roles": MANAGERS}

    @get("/")
    async def show(self, request: Request, session_id: FromPath[int]) -> Template:
        session = await sessions.session_in_scope(current_user(request), session_id)
        activities = await SessionActivity.select().where(SessionActivity.session == session_id).order_by(
            SessionActivity.position)
        enrolled = await Enrolment.count().where((Enrolment.session == session_id) & (Enrolment.active == True))  # noqa: E712
        return Template("sessions/detail.html", context={"session": session, "activities": activities,
                                                         "enrolled": enrolled})

    @post(["/afficher", "/cacher"])
    async def toggle(self, request: Request, session_id: FromPath[int]) -> Response:
        visible = request.url.path.endswith("/afficher")
        session = await sessions.set_visible(current_user(request), session_id, visible)
        return redirect(request, f"/etablissements/{session['establishment']}/sessions",
                        f"Session {'affichée' if visible else 'cachée'}.")

    @get("/supprimer")
    async def confirm_delete(self, request: Request, session_id: FromPath[int]) -> Template:
        session = await sessions.session_in_scope(current_user(request), session_id)
        return confirm_page(request, f"Supprimer la session « {session['full_name']} » et son contenu ?",
                            f"/etablissements/{session['establishment']}/sessions")

    @post("/supprimer")
    async def delete(self, request: Request, session_id: FromPath[int]) -> Response:
        session = await sessions.delete_session(current_user(request), session_id)
        return redirect(request, f"/etablissements/{session['establishment']}/sessions", "Session supprimée.")

    # -- the import wizard (B3) --------------------------------------------------------------
    @get("/import")
    async def wizard(self, request: Request, session_id: FromPath[int], etape: FromQuery[int | None] = None,
                     q: FromQuery[str | None] = None) -> Template:
        user = current_user(request)
        session = await sessions.session_in_scope(user, session_id)
        state = await sessions.current_import(user, session_id)
        return await self._wizard(request, session, state, etape, q or "", {})

    async def _wizard(self, request, session, state, step, q, errors, status_code=200):
        if state["status"] in ("queued", "running"):
            step = 5
        elif state["status"] == "done" and step != 6:
            step = 6
        step = min(max(step or 1, 1), 6)
        if step > 1 and not state["template"] and state["status"] == "draft":
            step = 1
        context = {"session": session, "state": state, "step": step, "steps": sessions.IMPORT_STEPS,
                   "errors": errors, "q": q, "settings": sessions.IMPORT_SETTINGS,
                   "chosen_settings": set(state["settings"].split("\n")),
                   "chosen": set(state["activity_ids"].split(","))}
        if step == 1:
            query = CourseTemplate.select().where(CourseTemplate.visible == True).order_by(CourseTemplate.title)  # noqa: E712
            if q:
                query = query.where(CourseTemplate.title.ilike(f"%{q}%") | CourseTemplate.short_name.ilike(f"%{q}%"))
            context["templates"] = await query
            context["template_count"] = await CourseTemplate.count().where(CourseTemplate.visible == True)  # noqa: E712
        if step in (3, 4) and state["template"]:
            context["activities"] = await TemplateActivity.select().where(
                TemplateActivity.template == state["template"]).order_by(TemplateActivity.position)
        if step == 5 and state["token"]:
            context["job"] = await progress.get(request.app.state.redis, state["token"])
        return render(request, "sessions/import.html", context, region="sessions/_wizard.html",
                      status_code=status_code)

    @post("/import")
    async def wizard_post(self, request: Request, session_id: FromPath[int]) -> Response:
        user = current_user(request)
        session = await sessions.session_in_scope(user, session_id)
        data = await form_data(request)
        step = int(data.get("step") or 1) if str(data.get("step") or "1").isdigit() else 1
        direction = data.get("go", "next")
        if direction == "cancel":
            return redirect(request, f"/sessions/{session_id}", "Importation annulée.", "info")
        if direction == "restart":
            await sessions.restart_import(user, session_id)
            return redirect(request, f"/sessions/{session_id}/import?etape=1")
        if direction == "previous":
            return redirect(request, f"/sessions/{session_id}/import?etape={max(1, step - 1)}")
        selected = await form_lists(request, "setting" if step == 2 else "activity")
        try:
            if step <= 3:
                await sessions.save_import_step(user, session_id, step, data, selected)
            # "Passer à la dernière étape" (from any step) or step 4's confirmation: import now.
            if direction == "last" or step >= 4:
                await sessions.launch_import(user, session_id, request.app.state.redis)
                return redirect(request, f"/sessions/{session_id}/import?etape=5")
        except ValidationFailed as invalid:
            state = await sessions.current_import(user, session_id)
            return await self._wizard(request, session, state, step, "", invalid.errors, status_code=422)
        return redirect(request, f"/sessions/{session_id}/import?etape={step + 1}")

    # -- manual enrolment (C1) ---------------------------------------------------------------
    @get("/inscriptions")
    async def enrol_page(self, request: Request, session_id: FromPath[int], q_current: FromQuery[str | None] = None,
                         q_potential: FromQuery[str | None] = None) -> Template:
        session = await sessions.session_in_scope(current_user(request), session_id)
        return await self._enrol_page(request, session, q_current or "", q_potential or "")

    async def _enrol_page(self, request, session, q_current, q_potential, message=None):
        return two_lists_page(
            request, "sessions/enrol.html", session=session,
            current=await enrolments.enrolled(session["id"], q_current),
            potential=await enrolments.establishment_learners(
                session["establishment"], enrolments.enrolled_user_ids(session["id"]), q_potential),
            titles=("Utilisateurs existants", "Utilisateurs potentiels"),
            action=f"/sessions/{session['id']}/inscriptions", q_current=q_current, q_potential=q_potential,
            message=message,
        )

    @post("/inscriptions")
    async def enrol(self, request: Request, session_id: FromPath[int]) -> Response:
        user = current_user(request)
        session = await sessions.session_in_scope(user, session_id)

        async def add(ids):
            count = await enrolments.enrol(user, session, ids)
            return f"{count} utilisateur(s) inscrit(s) avec le rôle Apprenant."

        async def remove(ids):
            removed, kept = await enrolments.unenrol(user, session, ids)
            message = f"{removed} inscription(s) manuelle(s) retirée(s)."
            if kept:
                message += f" {kept} utilisateur(s) restent inscrits par une cohorte synchronisée."
            return message

        return await two_lists_post(
            request, add=add, remove=remove, back=f"/sessions/{session_id}/inscriptions",
            page=lambda q_current, q_potential, message: self._enrol_page(request, session, q_current, q_potential, message),
        )

    # -- participants and the cohort sync method (C3) ---------------------------------------
    @get("/participants")
    async def participants(self, request: Request, session_id: FromPath[int]) -> Response:
        session = await sessions.session_in_scope(current_user(request), session_id)
        syncs = await CohortSync.select(CohortSync.id, CohortSync.cohort.name.as_alias("cohort_name")).where(
            CohortSync.session == session_id)
        cohorts = await Cohort.select(Cohort.id, Cohort.name).where(
            Cohort.establishment == session["establishment"]).order_by(Cohort.name)
        return await table_view(request, PARTICIPANTS, "sessions/participants.html", "sessions/_participants.html", {
            "session": session, "syncs": syncs, "cohorts": [(str(c["id"]), c["name"]) for c in cohorts],
            "url": f"/sessions/{session_id}/participants", "values": {}, "errors": {},
        }, extra=Enrolment.session == session_id)

    @post("/participants/methodes")
    async def add_method(self, request: Request, session_id: FromPath[int]) -> Response:
        user = current_user(request)
        session = await sessions.session_in_scope(user, session_id)
        data = await form_data(request)
        try:
            cohort_id = int(data.get("cohort") or 0)
        except ValueError:
            cohort_id = 0
        if not cohort_id:
            return redirect(request, f"/sessions/{session_id}/participants", "Choisissez une cohorte.", "error")
        await enrolments.add_sync(user, session, cohort_id)
        await enrolments.request_sync(request.app.state.redis, cohort_id)
        return redirect(request, f"/sessions/{session_id}/participants",
                        "Méthode « Synchronisation des cohortes » ajoutée : les membres sont en cours d'inscription.")

    @post("/participants/methodes/{sync_id:int}/supprimer")
    async def remove_method(self, request: Request, session_id: FromPath[int], sync_id: FromPath[int]) -> Response:
        user = current_user(request)
        session = await sessions.session_in_scope(user, session_id)
        cohort_id = await enrolments.remove_sync(user, session, sync_id)
        await enrolments.request_sync(request.app.state.redis, cohort_id)
        return redirect(request, f"/sessions/{session_id}/participants",
                        "Méthode retirée : les membres de la cohorte sont désinscrits (leur progression est conservée).")


HANDLERS = [EstablishmentSessionsController, SessionController]
