"""The catalogue of template courses (SPEC B1): managers browse it, administrators edit it."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Response, Template

from app.datatable import Col, DataTable, Filter
from app.services import catalogue
from app.services.errors import NotFound, ValidationFailed
from app.services.roles import ADMIN, GED, GET
from app.tables.catalogue import CourseTemplate, TemplateActivity
from app.tableview import register, table_view
from app.templating import render
from app.web import form_data, redirect

TEMPLATES = register(
    DataTable(
        name="templates",
        table=CourseTemplate,
        select=(CourseTemplate.id, CourseTemplate.code, CourseTemplate.short_name, CourseTemplate.title,
                CourseTemplate.duration, CourseTemplate.visible),
        columns=(
            Col("short_name", "Nom abrégé du contenu", CourseTemplate.short_name),
            Col("title", "Nom complet du contenu", CourseTemplate.title),
            Col("code", "Code catalogue", CourseTemplate.code),
            Col("duration", "Durée estimée", CourseTemplate.duration),
        ),
        filters=(Filter("q", "Rechercher", lambda v: CourseTemplate.title.ilike(f"%{v}%")
                        | CourseTemplate.short_name.ilike(f"%{v}%")),),
        default_sort="title",
        export_filename="catalogue",
    )
)


class CatalogueController(Controller):
    path = "/catalogue"
    opt = {"roles": (ADMIN, GED, GET)}

    @get("/")
    async def index(self, request: Request) -> Response:
        return await table_view(request, TEMPLATES, "catalogue/list.html", "catalogue/_list.html", {"url": "/catalogue"})

    @get("/{template_id:int}")
    async def show(self, request: Request, template_id: FromPath[int]) -> Template:
        template = await catalogue.get_template(template_id)
        activities = await TemplateActivity.select().where(TemplateActivity.template == template_id).order_by(
            TemplateActivity.position)
        return Template("catalogue/detail.html", context={"template": template, "activities": activities,
                                                          "kinds": catalogue.ACTIVITY_KINDS, "values": {}, "errors": {}})

    @get(["/nouveau", "/{template_id:int}/modifier"], opt={"roles": (ADMIN,)})
    async def form(self, request: Request, template_id: FromPath[int | None] = None) -> Template:
        values = await catalogue.get_template(template_id) if template_id else {"progress_block": True,
                                                                                  "discussion_block": True,
                                                                                  "visible": True}
        return render(request, "catalogue/form.html", {"values": values, "errors": {}, "template_id": template_id})

    @post(["/nouveau", "/{template_id:int}/modifier"], opt={"roles": (ADMIN,)})
    async def save(self, request: Request, template_id: FromPath[int | None] = None) -> Response:
        data = await form_data(request)
        try:
            saved = await catalogue.save_template(data, template_id)
        except ValidationFailed as invalid:
            return render(request, "catalogue/form.html", {"values": data, "errors": invalid.errors,
                                                           "template_id": template_id}, status_code=422)
        return redirect(request, f"/catalogue/{saved}", "Cours modèle enregistré.")

    @post("/{template_id:int}/activites", opt={"roles": (ADMIN,)})
    async def add_activity(self, request: Request, template_id: FromPath[int]) -> Response:
        data = await form_data(request)
        try:
            await catalogue.add_activity(template_id, data)
        except ValidationFailed as invalid:
            template = await catalogue.get_template(template_id)
            activities = await TemplateActivity.select().where(TemplateActivity.template == template_id).order_by(
                TemplateActivity.position)
            return render(request, "catalogue/detail.html", {"template": template, "activities": activities,
                                                             "kinds": catalogue.ACTIVITY_KINDS, "values": data,
                                                             "errors": invalid.errors}, status_code=422)
        return redirect(request, f"/catalogue/{template_id}", "Activité ajoutée.")

    @post("/{template_id:int}/activites/{activity_id:int}/supprimer", opt={"roles": (ADMIN,)})
    async def delete_activity(self, request: Request, template_id: FromPath[int], activity_id: FromPath[int]) -> Response:
        deleted = await TemplateActivity.delete().where(
            (TemplateActivity.id == activity_id) & (TemplateActivity.template == template_id)).returning(TemplateActivity.id)
        if not deleted:
            raise NotFound("Activité introuvable.")
        return redirect(request, f"/catalogue/{template_id}", "Activité supprimée.")


HANDLERS = [CatalogueController]
