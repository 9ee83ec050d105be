"""Gestion des contenus et catégories: sessions of an establishment (SPEC B2), their settings, the
content import wizard (B3), "Inscrire mes utilisateurs" (C1) and the participants tab with cohort
sync (C3)."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Response, Template

from app.http.forms import as_values, read_form, read_upload
from app.http.responder import confirm_page, redirect, render, url
from app.http.tableview import table_view
from app.http.twolists import Notice, two_lists_page, two_lists_post
from app.http.web import current_user
from app.lists.sessions import PARTICIPANTS, SESSIONS
from app.services import activities, convocations, enrolments, files, progress, session_content, sessions, slots
from app.services import learner, trainers
from app.services import assessments
from app.services.certificates import PLACEHOLDERS
from app.services.errors import ValidationFailed
from app.services.surveys.questions import TYPE_LABELS, load_questions
from app.services.surveys.settings import model_choices
from app.services.learner import COMPLETION_CHOICES, learner_session
from app.services.roles import ADMIN, GED, GET
from app.services.scope import establishment_choices, require_establishment
from app.services.trainer_scope import trains_session
from app.tables.catalogue import TrainingSession
from app.settings import get_settings
from app.tables.learning import Enrolment

MANAGERS = (ADMIN, GED, GET)


@dataclass
class CohortChoice:
    cohort: int | None = None


async def _session_form_context(request, establishment, values, errors, session=None) -> dict:
    return {
        "establishment": establishment, "values": values, "errors": errors, "session": session,
        "templates": [(str(t["id"]), t["title"]) for t in await sessions.search_templates("")],
        "establishments": await establishment_choices(current_user(request)),
        "certificate_placeholders": PLACEHOLDERS,
    }


class EstablishmentSessionsController(Controller):
    path = "/etablissements/{establishment_id:int}/sessions"
    opt = {"roles": MANAGERS}

    @get("/", name="sessions.index")
    async def index(self, request: Request, establishment_id: FromPath[int]) -> Response:
        user = current_user(request)
        establishment = await require_establishment(user, establishment_id)
        return await table_view(
            request, SESSIONS, "sessions/list.html", "sessions/_list.html",
            {"establishment": establishment, "categories": await sessions.category_counts(user),
             "url": url(request, "sessions.index", establishment_id=establishment_id)},
            extra=TrainingSession.establishment == establishment_id,
        )

    @get("/nouvelle", name="sessions.new")
    async def form(self, request: Request, establishment_id: FromPath[int]) -> Template:
        establishment = await require_establishment(current_user(request), establishment_id)
        return render(request, "sessions/form.html", await _session_form_context(
            request, establishment, {"establishment": establishment_id, "visible": True}, {}))

    @post("/nouvelle", name="sessions.create")
    async def create(self, request: Request, establishment_id: FromPath[int]) -> Response:
        user = current_user(request)
        establishment = await require_establishment(user, establishment_id)
        form = await read_form(request, sessions.SessionForm)
        if (await request.form()).get("action") == "propose":
            # "Proposer le nom": the seed's nomenclature from the dates and the template, then the form again.
            form.full_name = form.short_name = await sessions.proposed_name(form)
            return render(request, "sessions/form.html",
                          await _session_form_context(request, establishment, as_values(form), {}))
        try:
            session_id = await sessions.save_session(user, form)
        except ValidationFailed as invalid:
            return render(request, "sessions/form.html", await _session_form_context(
                request, establishment, as_values(form), invalid.errors), status_code=422)
        return redirect(request, url(request, "sessions.show", session_id=session_id),
                        "Session de formation créée. Importez maintenant son contenu.")


class SessionController(Controller):
    path = "/sessions/{session_id:int}"
    opt = {"roles": MANAGERS}

    # Open to everyone logged in: a learner who follows a link to a session they are enrolled in lands
    # on their own page of it (never a dead end); anyone else gets "Session introuvable.".
    @get("/", name="sessions.show", opt={"roles": None})
    async def show(self, request: Request, session_id: FromPath[int]) -> Response:
        user = current_user(request)
        if not user.has_role(*MANAGERS):
            if await trains_session(user, session_id):  # its trainer: their own view of it (issue 22)
                return redirect(request, url(request, "trainers.session", session_id=session_id))
            await learner_session(user.id, session_id)
            return redirect(request, url(request, "learner.session", session_id=session_id))
        session = await sessions.session_in_scope(user, session_id)
        session_slots = await slots.for_session(session_id)
        return render(request, "sessions/detail.html", {
            "session": session, "activities": await sessions.session_activities(session_id),
            "enrolled": await enrolments.enrolled_count(session_id),
            "slot_days": slots.by_day(session_slots), "slot_summary": slots.summary(session_slots),
            "slots": await trainers.session_slots(session_id), "trainers": await trainers.session_trainers(session_id)})

    # -- settings ------------------------------------------------------------------------------
    @get("/parametres", name="sessions.settings")
    async def settings(self, request: Request, session_id: FromPath[int]) -> Template:
        user = current_user(request)
        session = await sessions.session_in_scope(user, session_id)
        establishment = await require_establishment(user, session["establishment"])
        values = {**session, "seats": session["seats"] or "", "slots": slots.as_text(await slots.for_session(session_id)),
                  "min_attendance": "" if session["min_attendance_percent"] is None else session["min_attendance_percent"]}
        return render(request, "sessions/form.html",
                      await _session_form_context(request, establishment, values, {}, session=session))

    @post("/parametres", name="sessions.save_settings")
    async def save_settings(self, request: Request, session_id: FromPath[int]) -> Response:
        user = current_user(request)
        session = await sessions.session_in_scope(user, session_id)
        form = await read_form(request, sessions.SessionForm)
        try:
            await sessions.save_session(user, form, session_id)
        except (ValidationFailed, sessions.NeedsConfirmation) as answer:
            # Invalid: the form again with its messages. To confirm (issue 20): the form again, as typed,
            # with the question — « Enregistrer préviendra N inscrits » (or not), rename — before saving.
            establishment = await require_establishment(user, session["establishment"])
            confirm = answer if isinstance(answer, sessions.NeedsConfirmation) else None
            context = await _session_form_context(request, establishment, as_values(form),
                                                  {} if confirm else answer.errors, session=session)
            return render(request, "sessions/form.html", {
                **context, "confirm": confirm, "group_minutes": convocations.GROUP_WINDOW.seconds // 60},
                          status_code=200 if confirm else 422)
        await convocations.dispatch_pending(request.app.state.redis, [session_id])  # updates, if the slots moved
        message = "Paramètres enregistrés."
        if form.notify is True:
            message = (f"Paramètres enregistrés : les inscrits concernés sont prévenus (les modifications des "
                       f"{convocations.GROUP_WINDOW.seconds // 60} prochaines minutes partent dans le même courriel).")
        elif form.notify is False:
            message = "Paramètres enregistrés, sans prévenir les inscrits."
        if (form.min_attendance or "").strip().rstrip("%").strip() == "0":
            message += " Présence minimale 0 % : les attestations ne demandent aucune heure de présence."
        return redirect(request, url(request, "sessions.show", session_id=session_id), message)

    @post("/afficher", name="sessions.make_visible")
    async def make_visible(self, request: Request, session_id: FromPath[int]) -> Response:
        return await self._set_visible(request, session_id, True)

    @post("/cacher", name="sessions.hide")
    async def hide(self, request: Request, session_id: FromPath[int]) -> Response:
        return await self._set_visible(request, session_id, False)

    async def _set_visible(self, request: Request, session_id: int, visible: bool) -> Response:
        session = await sessions.set_visible(current_user(request), session_id, visible)
        return redirect(request, url(request, "sessions.index", establishment_id=session["establishment"]),
                        f"Session {'affichée' if visible else 'cachée'}.")

    @get("/supprimer", name="sessions.confirm_delete")
    async def confirm_delete(self, request: Request, session_id: FromPath[int]) -> Template:
        session = await sessions.session_in_scope(current_user(request), session_id)
        return confirm_page(request, f"Supprimer la session « {session['full_name']} » et son contenu ?",
                            url(request, "sessions.index", establishment_id=session["establishment"]))

    @post("/supprimer", name="sessions.delete")
    async def delete(self, request: Request, session_id: FromPath[int]) -> Response:
        session = await sessions.delete_session(current_user(request), session_id)
        return redirect(request, url(request, "sessions.index", establishment_id=session["establishment"]),
                        "Session supprimée.")

    # -- the import wizard (B3) --------------------------------------------------------------
    @get("/import", name="sessions.import")
    async def wizard(self, request: Request, session_id: FromPath[int], step: FromQuery[int | None] = None,
                     q: FromQuery[str | None] = None) -> Template:
        user = current_user(request)
        session = await sessions.session_in_scope(user, session_id)
        state = await sessions.current_import(user, session_id)
        return await self._wizard(request, session, state, step, q or "", {})

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
            context["templates"] = await sessions.search_templates(q)
            context["template_count"] = await sessions.visible_template_count()
        if step in (3, 4) and state["template"]:
            context["activities"] = await sessions.template_activities(state["template"])
        if step == 5 and state["token"]:
            context["job"] = await progress.get(request.app.state.redis, state["token"])
        return render(request, "sessions/import.html", context, region="sessions/_wizard.html",
                      status_code=status_code)

    @post("/import", name="sessions.import_step")
    async def wizard_post(self, request: Request, session_id: FromPath[int]) -> Response:
        user = current_user(request)
        session = await sessions.session_in_scope(user, session_id)
        form = await read_form(request, sessions.ImportStepForm)
        step = form.step

        def at(step: int) -> str:
            return url(request, "sessions.import", {"step": step}, session_id=session_id)

        if form.go == "cancel":
            return redirect(request, url(request, "sessions.show", session_id=session_id), "Importation annulée.", "info")
        if form.go == "restart":
            await sessions.restart_import(user, session_id)
            return redirect(request, at(1))
        if form.go == "previous":
            return redirect(request, at(max(1, step - 1)))
        try:
            if step <= 3:
                await sessions.save_import_step(user, session_id, form)
            # "Passer à la dernière étape" (from any step) or step 4's confirmation: import now.
            if form.go == "last" or step >= 4:
                await sessions.launch_import(user, session_id, request.app.state.redis, result_url=at(6))
                return redirect(request, at(5))
        except ValidationFailed as invalid:
            state = await sessions.current_import(user, session_id)
            return await self._wizard(request, session, state, step, "", invalid.errors, status_code=422)
        return redirect(request, at(step + 1))

    # -- manual enrolment (C1) ---------------------------------------------------------------
    @get("/inscriptions", name="sessions.enrol")
    async def enrol_page(self, request: Request, session_id: FromPath[int], q_current: FromQuery[str | None] = None,
                         q_potential: FromQuery[str | None] = None) -> Template:
        session = await sessions.session_in_scope(current_user(request), session_id)
        return await self._enrol_page(request, session, q_current or "", q_potential or "")

    async def _enrol_page(self, request, session, q_current, q_potential, notice=None):
        return two_lists_page(
            request, "sessions/enrol.html", session=session,
            current=await enrolments.enrolled(session["id"], q_current),
            potential=await enrolments.establishment_learners(
                session["establishment"], enrolments.enrolled_user_ids(session["id"]), q_potential),
            titles=("Utilisateurs existants", "Utilisateurs potentiels"),
            action=url(request, "sessions.enrol_change", session_id=session["id"]), q_current=q_current,
            q_potential=q_potential, notice=notice, seats_taken=await sessions.seats_taken(session["id"]),
        )

    @post("/inscriptions", name="sessions.enrol_change")
    async def enrol(self, request: Request, session_id: FromPath[int]) -> Response:
        user = current_user(request)
        session = await sessions.session_in_scope(user, session_id)

        async def add(ids):
            count = await enrolments.enrol(user, session, ids)
            await convocations.dispatch_pending(request.app.state.redis, [session_id])
            return f"{count} utilisateur(s) inscrit(s) avec le rôle Apprenant."

        async def remove(ids):
            removed, kept = await enrolments.unenrol(user, session, ids)
            await convocations.dispatch_pending(request.app.state.redis, [session_id])
            message = f"{removed} inscription(s) manuelle(s) retirée(s)."
            if kept:
                message += f" {kept} utilisateur(s) restent inscrits par une cohorte synchronisée."
            return message

        async def page(q_current: str, q_potential: str, notice: Notice):
            return await self._enrol_page(request, session, q_current, q_potential, notice)

        return await two_lists_post(request, add=add, remove=remove, page=page,
                                    back=url(request, "sessions.enrol", session_id=session_id))

    # -- participants and the cohort sync method (C3) ---------------------------------------
    @get("/participants", name="sessions.participants")
    async def participants(self, request: Request, session_id: FromPath[int]) -> Response:
        session = await sessions.session_in_scope(current_user(request), session_id)
        return await table_view(request, PARTICIPANTS, "sessions/participants.html", "sessions/_participants.html", {
            "session": session, "syncs": await enrolments.session_syncs(session_id, session.get("seats")),
            "cohorts": await enrolments.cohort_choices(session["establishment"]),
            "url": url(request, "sessions.participants", session_id=session_id), "values": {}, "errors": {},
        }, extra=Enrolment.session == session_id)

    @post("/participants/methodes", name="sessions.add_method")
    async def add_method(self, request: Request, session_id: FromPath[int]) -> Response:
        user = current_user(request)
        session = await sessions.session_in_scope(user, session_id)
        back = url(request, "sessions.participants", session_id=session_id)
        cohort_id = (await read_form(request, CohortChoice)).cohort
        if not cohort_id:
            return redirect(request, back, "Choisissez une cohorte.", "error")
        await enrolments.add_sync(user, session, cohort_id)
        await enrolments.request_sync(request.app.state.redis, cohort_id)
        return redirect(request, back,
                        "Méthode « Synchronisation des cohortes » ajoutée : les membres sont en cours d'inscription.")

    @post("/participants/methodes/{sync_id:int}/supprimer", name="sessions.remove_method")
    async def remove_method(self, request: Request, session_id: FromPath[int], sync_id: FromPath[int]) -> Response:
        user = current_user(request)
        session = await sessions.session_in_scope(user, session_id)
        cohort_id = await enrolments.remove_sync(user, session, sync_id)
        await enrolments.request_sync(request.app.state.redis, cohort_id)
        return redirect(request, url(request, "sessions.participants", session_id=session_id),
                        "Méthode retirée : les membres de la cohorte sont désinscrits (leur progression est conservée).")


class SessionContentController(Controller):
    """« Contenu de la session »: the session's own activities, edited by its managers with the
    template editor's form (add, edit, reorder, retire or restore, delete when nothing is recorded)."""

    path = "/sessions/{session_id:int}/contenu"
    opt = {"roles": MANAGERS}
    # Activity forms carry a file (a document or a video): room for the largest accepted one.
    request_max_body_size = get_settings().file_max_bytes + 1024 * 1024

    async def _page(self, request, session, values=None, errors=None, status_code=200):
        return render(request, "sessions/content.html", {
            "session": session, "activities": await session_content.editor_activities(session["id"]),
            "kinds": activities.ACTIVITY_KINDS, "rules": COMPLETION_CHOICES,
            "values": values or {"required": True}, "errors": errors or {},
            "add_url": url(request, "sessions.add_activity", session_id=session["id"])}, status_code=status_code)

    async def _activity_page(self, request, session, activity, values, errors=None, status_code=200):
        return render(request, "sessions/activity.html", {
            "session": session, "activity": activity, "kinds": activities.ACTIVITY_KINDS,
            "rules": COMPLETION_CHOICES, "values": values, "errors": errors or {}, "accepted": files.ACCEPTED_TEXT,
            "objectives": await assessments.session_objectives(session["id"]),  # numbered for the quiz's tags
            "max_mb": get_settings().file_max_bytes // 1_048_576,
            "save_url": url(request, "sessions.save_activity", session_id=session["id"], activity_id=activity["id"]),
            "back_url": url(request, "sessions.content", session_id=session["id"]),
            "survey_phases": activities.SURVEY_PHASES, "survey_models": model_choices()}, status_code=status_code)

    def _back(self, request, session_id, activity_id=None):
        anchor = f"#activity-{activity_id}" if activity_id else ""
        return url(request, "sessions.content", session_id=session_id) + anchor

    @get("/", name="sessions.content")
    async def index(self, request: Request, session_id: FromPath[int]) -> Template:
        session = await sessions.session_in_scope(current_user(request), session_id)
        return await self._page(request, session)

    @post("/", name="sessions.add_activity")
    async def add(self, request: Request, session_id: FromPath[int]) -> Response:
        user = current_user(request)
        session = await sessions.session_in_scope(user, session_id)
        form = await read_form(request, activities.ActivityForm)
        try:
            activity_id = await session_content.save_activity(session_id, form, None, await read_upload(request),
                                                              user.id)
        except ValidationFailed as invalid:
            return await self._page(request, session, as_values(form), invalid.errors, status_code=422)
        return redirect(request, url(request, "sessions.edit_activity", session_id=session_id, activity_id=activity_id),
                        "Activité ajoutée : complétez son contenu.")

    @get("/{activity_id:int}/apercu", name="sessions.preview_activity")
    async def preview(self, request: Request, session_id: FromPath[int], activity_id: FromPath[int]) -> Template:
        """What a learner sees of the activity (issue 20 point 12), read-only, from the session page."""
        session = await sessions.session_in_scope(current_user(request), session_id)
        activity = await session_content.get_activity(session_id, activity_id)
        return render(request, "sessions/preview.html", {
            "session": session, "activity": activity,
            "content": learner.clean_html(activity["content"]) if activity["kind"] == "page" else "",
            "questions": learner.load_quiz(activity["quiz"]) if activity["kind"] == "quiz" else
            load_questions(activity["quiz"]) if activity["kind"] == "survey" else [], "survey_types": TYPE_LABELS})

    @get("/{activity_id:int}", name="sessions.edit_activity")
    async def edit(self, request: Request, session_id: FromPath[int], activity_id: FromPath[int]) -> Template:
        session = await sessions.session_in_scope(current_user(request), session_id)
        activity = await session_content.get_activity(session_id, activity_id)
        return await self._activity_page(request, session, activity, activities.activity_values(activity))

    @post("/{activity_id:int}", name="sessions.save_activity")
    async def save(self, request: Request, session_id: FromPath[int], activity_id: FromPath[int]) -> Response:
        user = current_user(request)
        session = await sessions.session_in_scope(user, session_id)
        activity = await session_content.get_activity(session_id, activity_id)
        form = await read_form(request, activities.ActivityForm)
        if form.use_model:  # « Partir du modèle »: the form again, with the model's questions
            return await self._activity_page(request, session, activity,
                                             await activities.with_survey_model(as_values(form), form.survey_model))
        try:
            await session_content.save_activity(session_id, form, activity_id, await read_upload(request), user.id)
        except ValidationFailed as invalid:
            return await self._activity_page(request, session, activity, as_values(form), invalid.errors, 422)
        return redirect(request, self._back(request, session_id, activity_id), "Activité enregistrée.")

    @post("/{activity_id:int}/deplacer", name="sessions.move_activity")
    async def move(self, request: Request, session_id: FromPath[int], activity_id: FromPath[int]) -> Response:
        await sessions.session_in_scope(current_user(request), session_id)
        form = await read_form(request, activities.MoveForm)
        moved = await session_content.move_activity(session_id, activity_id, form.direction)
        return redirect(request, self._back(request, session_id, activity_id),
                        "Activité déplacée." if moved else "L'activité est déjà à cette place.",
                        "success" if moved else "info")

    @post("/{activity_id:int}/retirer", name="sessions.retire_activity")
    async def retire(self, request: Request, session_id: FromPath[int], activity_id: FromPath[int]) -> Response:
        return await self._set_retired(request, session_id, activity_id, True)

    @post("/{activity_id:int}/retablir", name="sessions.restore_activity")
    async def restore(self, request: Request, session_id: FromPath[int], activity_id: FromPath[int]) -> Response:
        return await self._set_retired(request, session_id, activity_id, False)

    async def _set_retired(self, request, session_id, activity_id, retired):
        await sessions.session_in_scope(current_user(request), session_id)
        changed = await session_content.set_retired(session_id, activity_id, retired)
        if retired:
            message = ("Activité retirée : cachée aux apprenants, elle ne compte plus pour l'achèvement "
                       "(les achèvements enregistrés sont conservés)." if changed else "Cette activité était déjà retirée.")
        else:
            message = "Activité rétablie." if changed else "Cette activité n'était pas retirée."
        return redirect(request, self._back(request, session_id, activity_id), message,
                        "success" if changed else "info")

    @get("/{activity_id:int}/supprimer", name="sessions.confirm_delete_activity")
    async def confirm_delete(self, request: Request, session_id: FromPath[int], activity_id: FromPath[int]) -> Template:
        await sessions.session_in_scope(current_user(request), session_id)
        activity = await session_content.get_activity(session_id, activity_id)
        return confirm_page(request, f"Supprimer l'activité « {activity['title']} » ?",
                            self._back(request, session_id, activity_id))

    @post("/{activity_id:int}/supprimer", name="sessions.delete_activity")
    async def delete(self, request: Request, session_id: FromPath[int], activity_id: FromPath[int]) -> Response:
        await sessions.session_in_scope(current_user(request), session_id)
        try:
            await session_content.delete_activity(session_id, activity_id)
        except ValidationFailed as refused:
            return redirect(request, self._back(request, session_id, activity_id), refused.errors["activity"], "error")
        return redirect(request, self._back(request, session_id), "Activité supprimée.")


HANDLERS = [EstablishmentSessionsController, SessionController, SessionContentController]
