"""The checks of a session's form (creation and settings page): the rules declared on SessionForm's
fields, then each rule that needs the database or other fields in one function that adds its French
message under the field's key.
Nothing is written here; ``validate`` returns the values saving needs, or raises ValidationFailed
with every problem at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.numbers import to_int
from app.services import slots
from app.services.certificates import template_errors
from app.services.errors import ValidationFailed
from app.services.roles import CurrentUser
from app.services.scope import establishment_scope
from app.services.seats import seats_taken
from app.services.session_names import propose_full_name
from app.services.sessions.form import SessionForm
from app.services.sessions.manage import session_in_scope
from app.tables.catalogue import CourseTemplate, TrainingSession
from app.validation import declared_errors

Errors = dict[str, str]


@dataclass
class CheckedSession:
    """What the form says once checked, with the session as it is (``current``, None on creation)."""

    current: dict | None
    establishment_id: int | None
    template: dict | None
    start: date | None
    end: date | None
    full_name: str
    short_name: str
    code: str  # as typed: "" when the code is left to be numbered or kept
    seats: int | None
    slot_list: list[slots.Slot] | None  # None when the form has no slots field
    min_attendance: int | None


async def validate(user: CurrentUser, form: SessionForm, session_id: int | None) -> CheckedSession:
    errors: Errors = declared_errors(form)  # the rules declared on SessionForm's fields
    current = await session_in_scope(user, session_id) if session_id else None
    establishment_id = await _check_establishment(user, form, current, errors)
    _check_dates(form.start_date, form.end_date, errors)
    template = await _check_template(form, current, errors)
    full_name, short_name = _check_names(form, template, errors)
    code = await _check_code(form.code, session_id, errors)
    seats = await _check_seats(form.seats, current, errors)
    _check_certificate_text(form.certificate_text, errors)
    slot_list = await _check_slots(form.slots, form.start_date, form.end_date, session_id, errors)
    min_attendance = _check_min_attendance(form.min_attendance, current, errors)
    if errors:
        raise ValidationFailed(errors)
    return CheckedSession(current, establishment_id, template, form.start_date, form.end_date, full_name, short_name,
                          code, seats, slot_list, min_attendance)


async def _check_establishment(user: CurrentUser, form: SessionForm, current: dict | None, errors: Errors) -> int | None:
    """A new session's establishment is one of the caller's scope; a saved one keeps its own."""
    scope = await establishment_scope(user)
    establishment_id = current["establishment"] if current else form.establishment
    if not establishment_id or not scope.allows(establishment_id):
        errors["establishment"] = "Choisissez une catégorie (établissement) de votre périmètre."
    return establishment_id


def _check_dates(start: date | None, end: date | None, errors: Errors) -> None:
    if not start:
        errors["start_date"] = "La date de début est obligatoire (jj/mm/aaaa)."
    if not end:
        errors["end_date"] = "La date de fin est obligatoire (jj/mm/aaaa)."
    if start and end and end < start:
        errors["end_date"] = "La date de fin doit être postérieure ou égale à la date de début."


async def _check_template(form: SessionForm, current: dict | None, errors: Errors) -> dict | None:
    """The catalogue template: chosen on creation, the session's own afterwards."""
    template_id = current["template"] if current else form.template
    if not template_id:
        return None
    template = await CourseTemplate.select().where(CourseTemplate.id == template_id).first()
    if template is None:
        errors["template"] = "Formation du catalogue inconnue."
    return template


def _check_names(form: SessionForm, template: dict | None, errors: Errors) -> tuple[str, str]:
    """The full name (the nomenclature's when left empty) and the short name (the full one when
    left empty): their lengths are checked here, on what will be stored."""
    full_name = form.full_name or propose_full_name(form.start_date, form.end_date,
                                                    template["title"] if template else "")
    if not full_name:
        errors["full_name"] = "Le nom complet est obligatoire."
    short_name = form.short_name or full_name
    for key, label, value, limit in (("full_name", "Le nom complet", full_name, 255),
                                     ("short_name", "Le nom abrégé", short_name, 255)):
        if len(value) > limit and key not in errors:
            errors[key] = f"{label} ne peut pas dépasser {limit} caractères."
    return full_name, short_name


async def _check_code(code: str, session_id: int | None, errors: Errors) -> str:
    """A typed code (its pattern declared on the form) is no other session's."""
    if code and not errors.get("code"):
        clash = TrainingSession.exists().where(TrainingSession.code == code)
        if session_id:
            clash = clash.where(TrainingSession.id != session_id)
        if await clash:
            errors["code"] = f"Le code {code} est déjà utilisé par une autre session."
    return code


async def _check_seats(typed: str, current: dict | None, errors: Errors) -> int | None:
    """A positive whole number, or empty for unlimited; never fewer than the seats already taken."""
    seats = None
    if typed.strip():
        seats = to_int(typed, low=1)
        if seats is None:
            errors["seats"] = "Le nombre de places doit être un entier positif (ou vide : illimité)."
    if seats is not None and current and "seats" not in errors:
        taken = await seats_taken(current["id"])
        if seats < taken:
            errors["seats"] = (f"{taken} personne(s) sont déjà inscrites ou en cours d'inscription : "
                               f"le nombre de places ne peut pas être inférieur à {taken}.")
    return seats


def _check_certificate_text(text: str | None, errors: Errors) -> None:
    if text is None:
        return
    problem = template_errors(text)
    if problem:
        errors["certificate_text"] = problem
    elif len(text) > 5000:
        errors["certificate_text"] = "Le texte de l'attestation ne peut pas dépasser 5 000 caractères."


async def _check_slots(text: str | None, start: date | None, end: date | None, session_id: int | None,
                       errors: Errors) -> list[slots.Slot] | None:
    """Every typed line a slot within the dates; none removed that has attendance recorded."""
    if text is None:
        return None
    slot_list, problem = slots.parse(text, start, end)
    if not problem and session_id:
        problem = await slots.removed_with_attendance(session_id, slot_list)
    if problem:
        errors["slots"] = problem
    return slot_list


def _check_min_attendance(typed: str | None, current: dict | None, errors: Errors) -> int | None:
    """A whole percentage from 0 to 100; empty for the platform's; the session's own when the form
    has no such field."""
    if typed is None:
        return current["min_attendance_percent"] if current else None
    typed = typed.strip().rstrip("%").strip()
    if not typed:
        return None  # empty: the platform's (issue 20); 0 is an explicit « no condition »
    min_attendance = to_int(typed, low=0, high=100)
    if min_attendance is None:
        errors["min_attendance"] = ("La présence minimale est un pourcentage entier de 0 à 100 "
                                    "(ou vide : celle de la plateforme).")
    return min_attendance
