"""« Gérer les cohortes » (SPEC C2)."""

from __future__ import annotations

from app.datatable import Col, DataTable
from app.lists import register
from app.lists._common import yes_no
from app.services.enrolments import member_and_session_counts
from app.tables.cohorts import Cohort

COHORTS = register(
    DataTable(
        name="cohorts",
        table=Cohort,
        select=(Cohort.id, Cohort.name, Cohort.visible, Cohort.establishment),
        columns=(
            Col("name", "Nom de la cohorte", Cohort.name),
            Col("visible", "Visible", Cohort.visible, export=lambda r: yes_no(r["visible"])),
            Col("members", "Membres"),
            Col("sessions", "Sessions synchronisées"),
        ),
        default_sort="name",
        scope_column=Cohort.establishment,
        export_filename="cohortes",
        enrich=member_and_session_counts,
    )
)
