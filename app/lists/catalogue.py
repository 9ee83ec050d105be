"""The catalogue of template courses (SPEC B1)."""

from __future__ import annotations

from app.datatable import Col, DataTable, Filter
from app.lists import register
from app.services.text import search
from app.tables.catalogue import CourseTemplate

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
        filters=(Filter("q", "Rechercher", lambda v: search(CourseTemplate.search_text, v)),),
        default_sort="title",
        export_filename="catalogue",
    )
)
