"""« Vue d'ensemble des inscrits » (SPEC D2): one row per learner actively enrolled in a session, with
their progress summary and one cell per activity of the session.

The rows are one query per page: the summary lives on the enrolment (percent, last visit, completion
date), so every filter and sort is a WHERE or an ORDER BY on it (``count_in_page``: the exact total is
a count of the session's enrolments, skipped when the page is not full). The page's activity cells are
one more query (completions WHERE enrolment IN the page's ids).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from app import db
from app.datatable import About, Col, DataTable, Filter
from app.dates import date_fr, datetime_fr, local_naive, local_now, now
from app.lists import register
from app.lists._common import full_name, int_or_none, learner_search, person_of
from app.numbers import rate_percent
from app.services.slots import slot_minutes
from app.settings import get_settings
from app.tables.catalogue import SessionActivity, SessionSlot, TrainingSession
from app.tables.learning import ActivityCompletion, Enrolment, EnrolmentSource

INACTIVE_DAYS = 7

STATES = {
    "not_started": "Pas commencé",
    "in_progress": "En cours",
    "completed": "Terminé",
    "never_visited": "Jamais visité",
    "inactive": f"Inactif depuis {INACTIVE_DAYS} jours",  # the home page's « à relancer »
}


def _state(value: str):
    return {
        "not_started": (Enrolment.required_done == 0) & Enrolment.completed_at.is_null(),
        "in_progress": (Enrolment.required_done > 0) & Enrolment.completed_at.is_null(),
        "completed": Enrolment.completed_at.is_not_null(),
        "never_visited": Enrolment.last_visit.is_null(),
        "inactive": Enrolment.completed_at.is_null() & (
            Enrolment.last_visit.is_null() | (Enrolment.last_visit < now() - timedelta(days=INACTIVE_DAYS))),
    }.get(value)


def _cohort(value: str):
    cohort_id = int_or_none(value)
    if not cohort_id:
        return None
    return Enrolment.id.is_in(
        EnrolmentSource.select(EnrolmentSource.enrolment).where(EnrolmentSource.cohort == cohort_id))


async def _planned(rows: list[dict]) -> None:
    """Each row's planned minutes (its session's slots, one query for the page or chunk; None without
    slots) and taux de réalisation (issue 22): attended ÷ planned × 100, rounded, halves up."""
    sessions = sorted({r["session"] for r in rows})
    planned: dict[int, int] = {}
    if sessions:
        for slot in await SessionSlot.select(SessionSlot.session, SessionSlot.starts, SessionSlot.ends).where(
                SessionSlot.session.is_in(sessions)):
            planned[slot["session"]] = planned.get(slot["session"], 0) + slot_minutes(slot["starts"], slot["ends"])
    for r in rows:
        r["planned_minutes"] = planned.get(r["session"])
        r["rate"] = rate_percent(r["attended_minutes"], r["planned_minutes"])


async def _cells(rows: list[dict]) -> list[dict]:
    """Each row's completions, {activity id: completion time on Paris clocks (naive, as a spreadsheet
    cell wants it)}, for the page or an export chunk: one query. On PostgreSQL it is grouped by
    enrolment and the zone converted by the database (a whole-session export reads 5,000 rows of
    arrays, not 150,000 rows each converted in Python)."""
    ids = [r["id"] for r in rows]
    done: dict[int, dict[int, object]] = {i: {} for i in ids}
    if ids and not db.is_sqlite():
        for c in await ActivityCompletion.raw(
            "SELECT enrolment, array_agg(activity) AS activities, "
            "array_agg(completed_at AT TIME ZONE {}) AS times FROM activity_completion "
            "WHERE enrolment = ANY({}) GROUP BY enrolment", get_settings().timezone, ids,
        ):
            done[c["enrolment"]] = dict(zip(c["activities"], c["times"]))
    elif ids:
        tz = local_now().tzinfo
        for c in await ActivityCompletion.select(
            ActivityCompletion.enrolment, ActivityCompletion.activity, ActivityCompletion.completed_at
        ).where(ActivityCompletion.enrolment.is_in(ids)):
            done[c["enrolment"]][c["activity"]] = c["completed_at"].astimezone(tz).replace(tzinfo=None)
    for r in rows:
        r["done"] = done[r["id"]]
    await _planned(rows)
    return rows


def session_id_of(params: Mapping[str, str]) -> int | None:
    return int_or_none(params.get("session"))


async def activity_columns(session_id: int) -> tuple[Col, ...]:
    """One export column per activity of the session, in order: the completion date, empty if not done."""
    activities = await SessionActivity.select(SessionActivity.id, SessionActivity.title).where(
        (SessionActivity.session == session_id) & SessionActivity.retired_at.is_null()).order_by(
        SessionActivity.position).order_by(SessionActivity.id)
    return tuple(
        Col(f"activity_{a['id']}", a["title"], export=lambda r, i=a["id"]: r["done"].get(i))
        for a in activities
    )


async def _about(params: Mapping[str, str]) -> About:
    """The session the table is about (its id in ``params["session"]``, set by the screen)."""
    session_id = session_id_of(params)
    if session_id is None:
        return About(where=Enrolment.id == -1)
    return About(where=Enrolment.session == session_id, columns=await activity_columns(session_id),
                 heading=await export_heading(session_id))


async def export_heading(session_id: int) -> tuple[str, ...]:
    """The lines above the exported table: the session, its establishment, when it was exported."""
    s = await TrainingSession.select(
        TrainingSession.full_name, TrainingSession.code, TrainingSession.start_date, TrainingSession.end_date,
        TrainingSession.establishment.name.as_alias("establishment_name"),
        TrainingSession.establishment.code.as_alias("establishment_code"),
    ).where(TrainingSession.id == session_id).first()
    if s is None:
        return ()
    return (f"Vue d'ensemble des inscrits — {s['full_name']} ({s['code']})",
            f"Du {date_fr(s['start_date'])} au {date_fr(s['end_date'])}",
            f"Établissement : {s['establishment_name']} ({s['establishment_code']})",
            f"Exporté le {datetime_fr(now())}")


PROGRESS = register(
    DataTable(
        name="progress",
        table=Enrolment,
        select=(
            Enrolment.id, Enrolment.session, Enrolment.user, Enrolment.percent, Enrolment.required_done,
            Enrolment.required_total, Enrolment.last_visit, Enrolment.completed_at, Enrolment.attended_minutes,
            *person_of(Enrolment), Enrolment.user.matricule.as_alias("matricule"),
        ),
        columns=(
            # By the learner's last-name key kept on the enrolment (app/tables/name_keys.py): a range of
            # the index (session, name_key, id), not a join and sort of the whole session.
            Col("name", "Prénom / Nom", Enrolment.name_key, export=full_name),
            Col("username", "Nom d'utilisateur"),
            Col("email", "Adresse de courriel"),
            Col("matricule", "Matricule"),
            Col("last_visit", "Dernière visite", Enrolment.last_visit, export=lambda r: local_naive(r["last_visit"])),
            Col("progress", "Progression (%)", Enrolment.percent, export=lambda r: r["percent"]),
            Col("completed_at", "Terminé le", export=lambda r: local_naive(r["completed_at"])),
            # Hours attended (issue 12): slots recorded « présent », as a number of hours (10.5).
            Col("attended", "Heures de présence", Enrolment.attended_minutes,
                export=lambda r: round(r["attended_minutes"] / 60, 2)),
            # Taux de réalisation (issue 22): the planned hours are the same for every row of the session,
            # so the rate sorts as the hours attended; empty (« — » on the page) for a session without slots.
            Col("rate", "Taux de réalisation (%)", Enrolment.attended_minutes, export=lambda r: r["rate"]),
        ),
        filters=(
            Filter("q", "Nom", lambda v: learner_search(Enrolment, v)),
            Filter("cohort", "Cohorte", _cohort, kind="select"),  # choices: the establishment's cohorts
            Filter("state", "État", _state, kind="select", options=list(STATES.items())),
        ),
        default_sort="name",
        scope_column=Enrolment.session.establishment,
        base_where=lambda user, scope: Enrolment.active == True,  # noqa: E712
        export_filename="progression",
        enrich=_cells,
        count_in_page=True,
        about=_about,
    )
)
