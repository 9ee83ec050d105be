"""Sessions of an establishment (SPEC B2) and their participants (C1, C3)."""

from __future__ import annotations

from app.dates import local_naive
from app.datatable import Col, DataTable, Filter
from app.lists import register
from app.lists._common import full_name, learner_search, person_of
from app.services.enrolments import sources_by_user
from app.services.text import search
from app.tables.catalogue import TrainingSession
from app.tables.learning import Enrolment

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
                export=lambda r: "Visible" if r["visible"] else "Cachée"),  # a state, not the option's label
        ),
        filters=(Filter("q", "Nom ou code", lambda v: search(TrainingSession.search_text, v)),),
        default_sort="-start_date",
        scope_column=TrainingSession.establishment,
        export_filename="sessions",
    )
)

async def _methods(rows: list[dict]) -> list[dict]:
    """How each participant is enrolled (one query per page: rows are of one session)."""
    if rows:
        by_user = await sources_by_user(rows[0]["session"], [r["user"] for r in rows])
        for r in rows:
            r["methods"] = by_user.get(r["user"], [])
    return rows


PARTICIPANTS = register(
    DataTable(
        name="participants",
        table=Enrolment,
        select=(
            Enrolment.id, Enrolment.session, Enrolment.user, Enrolment.enrolled_at,
            *person_of(Enrolment), Enrolment.user.last_access.as_alias("last_access"),
        ),
        columns=(
            Col("last_name", "Prénom / Nom", Enrolment.name_key, export=full_name),  # app/tables/name_keys.py
            Col("username", "Nom d'utilisateur", Enrolment.user.username),
            Col("email", "Adresse de courriel", Enrolment.user.email),
            Col("role", "Rôle", export=lambda r: "Apprenant"),
            Col("method", "Méthode d'inscription", export=lambda r: ", ".join(r["methods"])),
            Col("enrolled_at", "Inscrit le", Enrolment.enrolled_at, export=lambda r: r["enrolled_at"] and local_naive(r["enrolled_at"]).date()),
            Col("convocation", "Convocation", exported=False),
        ),
        filters=(Filter("q", "Nom", lambda v: learner_search(Enrolment, v)),),
        default_sort="last_name",
        scope_column=Enrolment.session.establishment,
        base_where=lambda user, scope: Enrolment.active == True,  # noqa: E712
        export_filename="participants",
        enrich=_methods,
    )
)
