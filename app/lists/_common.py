"""Small helpers shared by the list definitions."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from app.datatable import Choices
from app.numbers import to_int
from app.services.text import SHORT_SEARCH, fold, search, starts_with
from app.tables.catalogue import CourseTemplate
from app.tables.org import Establishment


def int_or_none(value) -> int | None:
    return to_int(value)


def yes_no(value: bool) -> str:
    return "Oui" if value else "Non"


def person_of(table) -> tuple:
    """The columns of the person a row is about (its ``user``): first and last name, username and
    e-mail, under those names — as the lists of a session's learners show them."""
    return (table.user.first_name.as_alias("first_name"), table.user.last_name.as_alias("last_name"),
            table.user.username.as_alias("username"), table.user.email.as_alias("email"))


def learner_search(table, value: str):
    """The « Nom » search of a session's learners (``table``: Enrolment): the learner's search text.
    One or two letters (the text begins with them, and it begins with the last name, which every
    account has) also bound the enrolment's name key to the same beginning, a condition they imply:
    the page sorted by name then reads that range of the index (session, name_key, id), where the
    planner, which cannot know that the matches are all together in that order, walked the session
    from its first name on, one account read per learner (issue 24: « zo » read the whole session)."""
    clause = search(table.user.search_text, value)
    folded = fold(value).strip()
    if clause is not None and len(folded) <= SHORT_SEARCH:
        clause = clause & starts_with(table.name_key, folded)
    return clause


def full_name(row: dict) -> str:
    """« Prénom Nom », as a list exports its « Prénom / Nom » column."""
    return f"{row['first_name']} {row['last_name']}"


# The establishments a filter may be set to: those of the caller's scope, by code (hundreds in a
# network: suggested as one types rather than all listed).
ESTABLISHMENT_CHOICES = Choices(
    table=Establishment,
    columns=(Establishment.code, Establishment.name),
    label=lambda r: f"{r['code']} — {r['name']}",
    order=Establishment.code,
    search=lambda text: search(Establishment.search_text, text),
    allowed=lambda user, scope: scope.where(Establishment.id),
)

# The catalogue's course templates (the whole network's), by code.
TEMPLATE_CHOICES = Choices(
    table=CourseTemplate,
    columns=(CourseTemplate.code, CourseTemplate.title),
    label=lambda r: f"{r['code']} — {r['title']}",
    order=CourseTemplate.code,
    search=lambda text: search(CourseTemplate.search_text, text),
)


def _day(value: str) -> datetime | None:
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), timezone.utc)
    except ValueError:
        return None


def since(column):
    """A date filter's clause: ``column`` on or after the day typed (YYYY-MM-DD), or no filter."""
    return lambda v: column >= _day(v) if _day(v) else None


def until(column):
    """A date filter's clause: ``column`` before the end of the day typed, or no filter."""
    return lambda v: column < _day(v) + timedelta(days=1) if _day(v) else None
