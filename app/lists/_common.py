"""Small helpers shared by the list definitions."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from app.datatable import Choices
from app.numbers import to_int
from app.services.text import search
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
