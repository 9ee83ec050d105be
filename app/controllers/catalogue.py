"""The catalogue of template courses (SPEC B1): managers browse it, administrators edit it."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Response, Template

from app.http.forms import as_values, read_form, read_upload
from app.http.responder import redirect, render, url
from app.http.tableview import table_view
from app.http.web import current_user
from app.lists.catalogue import TEMPLATES
from app.services import assessments, catalogue, files
from app.services.activities import SURVEY_PHASES, MoveForm, with_survey_model
from app.services.surveys.settings import model_choices
from app.services.learner import COMPLETION_CHOICES
from app.settings import get_settings
from app.services.errors import ValidationFailed
from app.services.roles import ADMIN, GED, GET
from app.services.bpf.labels import TEMPLATE_FORM_CHOICES as BPF_CHOICES


class CatalogueController(Controller):
    path = "/catalogue"
    opt = {"roles": (ADMIN, GED, GET)}

    @get("/", name="catalogue.index")
    async def index(self, request: Request) -> Response:
        return await table_view(request, TEMPLATES, "catalogue/list.html", "catalogue/_list.html",
                                {"url": url(request, "catalogue.index")})

    # Activity forms carry a file (a document or a video): room for the largest accepted one.
    request_max_body_size = get_settings().file_max_bytes + 1024 * 1024

    async def _detail(self, request, template_id, values=None, errors=None, status_code=200):
        return render(request, "catalogue/detail.html", {
            "template": (template := await catalogue.get_template(template_id)),
            "objective_list": assessments.objective_lines(template["objectives"]),  # one per line, numbered
            "activities": await catalogue.template_activities(template_id), "kinds": catalogue.ACTIVITY_KINDS,
            "rules": COMPLETION_CHOICES, "values": values or {"required": True}, "errors": errors or {},
            "add_url": url(request, "catalogue.add_activity", template_id=template_id)},
            status_code=status_code)

    async def _activity_page(self, request, template_id, activity, values, errors=None, status_code=200):
        return render(request, "catalogue/activity.html", {
            "template": await catalogue.get_template(template_id), "activity": activity,
            "kinds": catalogue.ACTIVITY_KINDS, "rules": COMPLETION_CHOICES, "values": values,
            "objectives": await assessments.template_objectives(template_id),  # numbered for the quiz's tags
            "errors": errors or {}, "accepted": files.ACCEPTED_TEXT,
            "max_mb": get_settings().file_max_bytes // 1_048_576,
            "save_url": url(request, "catalogue.save_activity", template_id=template_id, activity_id=activity["id"]),
            "back_url": url(request, "catalogue.show", template_id=template_id),
            "survey_phases": SURVEY_PHASES, "survey_models": model_choices()}, status_code=status_code)

    @get("/{template_id:int}", name="catalogue.show")
    async def show(self, request: Request, template_id: FromPath[int]) -> Template:
        return await self._detail(request, template_id)

    @get(["/nouveau", "/{template_id:int}/modifier"], opt={"roles": (ADMIN,)}, name="catalogue.form")
    async def form(self, request: Request, template_id: FromPath[int | None] = None) -> Template:
        values = await catalogue.get_template(template_id) if template_id else {
            "progress_block": True, "discussion_block": True, "visible": True}
        return render(request, "catalogue/form.html", {"values": values, "errors": {}, "template_id": template_id,
                                                       **BPF_CHOICES})

    @post(["/nouveau", "/{template_id:int}/modifier"], opt={"roles": (ADMIN,)}, name="catalogue.save")
    async def save(self, request: Request, template_id: FromPath[int | None] = None) -> Response:
        form = await read_form(request, catalogue.TemplateForm)
        try:
            saved = await catalogue.save_template(form, template_id)
        except ValidationFailed as invalid:
            return render(request, "catalogue/form.html", {"values": as_values(form), "errors": invalid.errors,
                                                           "template_id": template_id, **BPF_CHOICES},
                          status_code=422)
        return redirect(request, url(request, "catalogue.show", template_id=saved), "Cours modèle enregistré.")

    @post("/{template_id:int}/activites", opt={"roles": (ADMIN,)}, name="catalogue.add_activity")
    async def add_activity(self, request: Request, template_id: FromPath[int]) -> Response:
        form = await read_form(request, catalogue.ActivityForm)
        try:
            activity_id = await catalogue.save_activity(template_id, form, None, await read_upload(request),
                                                        current_user(request).id)
        except ValidationFailed as invalid:
            return await self._detail(request, template_id, as_values(form), invalid.errors, status_code=422)
        return redirect(request, url(request, "catalogue.edit_activity", template_id=template_id,
                                     activity_id=activity_id), "Activité ajoutée : complétez son contenu.")

    @get("/{template_id:int}/activites/{activity_id:int}", opt={"roles": (ADMIN,)}, name="catalogue.edit_activity")
    async def edit_activity(self, request: Request, template_id: FromPath[int], activity_id: FromPath[int]) -> Template:
        activity = await catalogue.get_activity(template_id, activity_id)
        return await self._activity_page(request, template_id, activity, catalogue.activity_values(activity))

    @post("/{template_id:int}/activites/{activity_id:int}", opt={"roles": (ADMIN,)}, name="catalogue.save_activity")
    async def save_activity(self, request: Request, template_id: FromPath[int], activity_id: FromPath[int]) -> Response:
        activity = await catalogue.get_activity(template_id, activity_id)
        form = await read_form(request, catalogue.ActivityForm)
        if form.use_model:  # « Partir du modèle »: the form again, with the model's questions
            return await self._activity_page(request, template_id, activity,
                                             await with_survey_model(as_values(form), form.survey_model))
        try:
            await catalogue.save_activity(template_id, form, activity_id, await read_upload(request),
                                          current_user(request).id)
        except ValidationFailed as invalid:
            return await self._activity_page(request, template_id, activity, as_values(form), invalid.errors, 422)
        return redirect(request, url(request, "catalogue.show", template_id=template_id), "Activité enregistrée.")

    @post("/{template_id:int}/activites/{activity_id:int}/supprimer", opt={"roles": (ADMIN,)},
          name="catalogue.delete_activity")
    async def delete_activity(self, request: Request, template_id: FromPath[int], activity_id: FromPath[int]) -> Response:
        await catalogue.delete_activity(template_id, activity_id)
        return redirect(request, url(request, "catalogue.show", template_id=template_id), "Activité supprimée.")

    @post("/{template_id:int}/activites/{activity_id:int}/deplacer", opt={"roles": (ADMIN,)},
          name="catalogue.move_activity")
    async def move_activity(self, request: Request, template_id: FromPath[int], activity_id: FromPath[int]) -> Response:
        form = await read_form(request, MoveForm)
        moved = await catalogue.move_activity(template_id, activity_id, form.direction)
        return redirect(request, url(request, "catalogue.show", template_id=template_id) + f"#activity-{activity_id}",
                        "Activité déplacée." if moved else "L'activité est déjà à cette place.",
                        "success" if moved else "info")


HANDLERS = [CatalogueController]
