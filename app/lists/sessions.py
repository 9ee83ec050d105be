"""Sessions of an establishment (SPEC B2) and their participants (C1, C3)."""

from __future__ import annotations

from app.dates import date_fr
from app.datatable import Col, DataTable, Filter
from app.lists import register
from app.services.text import search
from app.tables.catalogue import Enrolment, TrainingSession

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
        filters=(Filter("q", "Nom ou code", lambda v: search(TrainingSession.search_text, v)),),
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
        filters=(Filter("q", "Nom", lambda v: search(Enrolment.user.search_text, v)),),
        default_sort="last_name",
        scope_column=Enrolment.session.establishment,
        base_where=lambda user, scope: Enrolment.active == True,  # noqa: E712
        export_filename="participants",
    )
)
