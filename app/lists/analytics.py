"""« Inscrits » (SPEC E2): the enrolments of the caller's scope, one row per person and session."""

from __future__ import annotations

from app.datatable import Col, DataTable, Filter, choice_filter
from app.dates import local_naive
from app.lists import register
from app.lists._common import ESTABLISHMENT_CHOICES
from app.services.text import search
from app.tables.learning import Enrolment

PROGRESS = {"never": "Jamais commencé", "started": "En cours", "completed": "Achevé"}


def _progress(value: str):
    return {
        "never": Enrolment.last_visit.is_null() & (Enrolment.required_done == 0),
        "started": (Enrolment.last_visit.is_not_null() | (Enrolment.required_done > 0)) & Enrolment.completed_at.is_null(),
        "completed": Enrolment.completed_at.is_not_null(),
    }.get(value)


def _when(value):
    return local_naive(value) if value else ""


ENROLLED = register(
    DataTable(
        name="analytics_enrolled",
        table=Enrolment,
        select=(
            Enrolment.id, Enrolment.user, Enrolment.session, Enrolment.enrolled_at, Enrolment.percent,
            Enrolment.last_visit, Enrolment.completed_at, Enrolment.required_done,
            Enrolment.user.first_name.as_alias("first_name"), Enrolment.user.last_name.as_alias("last_name"),
            Enrolment.user.username.as_alias("username"),
            Enrolment.session.code.as_alias("session_code"), Enrolment.session.full_name.as_alias("session_name"),
            Enrolment.session.establishment.code.as_alias("establishment_code"),
        ),
        columns=(
            Col("last_name", "Prénom / Nom", Enrolment.user.last_name_key,
                export=lambda r: f"{r['first_name']} {r['last_name']}"),
            Col("username", "Nom d'utilisateur", Enrolment.user.username),
            Col("establishment", "Établissement", Enrolment.session.establishment.code,
                export=lambda r: r["establishment_code"]),
            Col("session", "Session", Enrolment.session.code, export=lambda r: f"{r['session_code']} — {r['session_name']}"),
            Col("percent", "Progression (%)", Enrolment.percent),
            Col("last_visit", "Dernier accès", Enrolment.last_visit, export=lambda r: _when(r["last_visit"]) or None),  # never: empty
            Col("enrolled_at", "Inscrit le", Enrolment.enrolled_at, export=lambda r: _when(r["enrolled_at"])),
            Col("completed_at", "Achevé le", Enrolment.completed_at, export=lambda r: _when(r["completed_at"])),
        ),
        filters=(
            Filter("q", "Nom", lambda v: search(Enrolment.user.search_text, v)),
            choice_filter("establishment", "Établissement", Enrolment.session.establishment, ESTABLISHMENT_CHOICES),
            Filter("session", "Code de session", lambda v: search(Enrolment.session.search_text, v)),
            Filter("progress", "Progression", _progress, kind="select", options=list(PROGRESS.items())),
            Filter("audience", "Public", lambda v: {"agents": Enrolment.user.external != True,  # noqa: E712
                                                    "external": Enrolment.user.external == True}.get(v),  # noqa: E712
                   kind="select", options=[("agents", "Agents"), ("external", "Externes")]),
        ),
        default_sort="last_name",
        scope_column=Enrolment.session.establishment,
        base_where=lambda user, scope: Enrolment.active == True,  # noqa: E712
        export_filename="inscrits",
    )
)
