"""« Créer une session de formation » (SPEC B2) and the session's settings page: the form's
checks, the confirmation step (issue 20) and what saving changes."""

from __future__ import annotations

import re

from app import db
from app.numbers import to_int
from app.services.errors import ValidationFailed
from app.services.roles import CurrentUser
from app.services.scope import establishment_scope
from app.services.seats import seats_taken
from app.services.session_names import propose_full_name, renamed, stale_name
from app.services.sessions.form import SessionForm
from app.services.sessions.manage import CODE_RE, next_code, session_in_scope
from app.services.text import search_text
from app.services.uniqueness import fields_unique
from app.tables.catalogue import CourseTemplate, TrainingSession


class NeedsConfirmation(Exception):
    """Saving these settings needs the manager's word first (issue 20): ``notify`` learners would be
    told of the change (``what`` changed), and/or the name states other dates (``proposed`` name)."""

    def __init__(self, notify: int, what: list[str], proposed: str | None, current_name: str):
        super().__init__("confirmation")
        self.notify, self.what, self.proposed, self.current_name = notify, what, proposed, current_name


async def proposed_name(form: SessionForm) -> str:
    """"Proposer le nom": the seed's nomenclature from the dates and the chosen template."""
    template = await CourseTemplate.select(CourseTemplate.title).where(
        CourseTemplate.id == form.template).first() if form.template else None
    return propose_full_name(form.start_date, form.end_date, template["title"] if template else "")


async def save_session(user: CurrentUser, form: SessionForm, session_id: int | None = None) -> int:
    """Create a session, or save its settings (its establishment and template stay as they are)."""
    errors: dict[str, str] = {}
    current = await session_in_scope(user, session_id) if session_id else None
    scope = await establishment_scope(user)
    establishment_id = current["establishment"] if current else form.establishment
    if not establishment_id or not scope.allows(establishment_id):
        errors["establishment"] = "Choisissez une catégorie (établissement) de votre périmètre."
    start, end = form.start_date, form.end_date
    if not start:
        errors["start_date"] = "La date de début est obligatoire (jj/mm/aaaa)."
    if not end:
        errors["end_date"] = "La date de fin est obligatoire (jj/mm/aaaa)."
    if start and end and end < start:
        errors["end_date"] = "La date de fin doit être postérieure ou égale à la date de début."
    template = None
    template_id = current["template"] if current else form.template
    if template_id:
        template = await CourseTemplate.select().where(CourseTemplate.id == template_id).first()
        if template is None:
            errors["template"] = "Formation du catalogue inconnue."
    full_name = form.full_name or propose_full_name(start, end, template["title"] if template else "")
    if not full_name:
        errors["full_name"] = "Le nom complet est obligatoire."
    short_name = form.short_name or full_name
    for key, label, value, limit in (("full_name", "Le nom complet", full_name, 255),
                                     ("short_name", "Le nom abrégé", short_name, 255),
                                     ("id_number", "Le numéro d'identification", form.id_number, 100)):
        if len(value) > limit and key not in errors:
            errors[key] = f"{label} ne peut pas dépasser {limit} caractères."
    code = form.code
    if code and not CODE_RE.match(code):
        errors["code"] = "Code de session invalide : année sur 2 chiffres, code catalogue, S, numéro (ex. 26C03S1)."
    if code and not errors.get("code"):
        clash = TrainingSession.exists().where(TrainingSession.code == code)
        if session_id:
            clash = clash.where(TrainingSession.id != session_id)
        if await clash:
            errors["code"] = f"Le code {code} est déjà utilisé par une autre session."
    seats = None
    if form.seats.strip():
        seats = to_int(form.seats, low=1)
        if seats is None:
            errors["seats"] = "Le nombre de places doit être un entier positif (ou vide : illimité)."
    if seats is not None and current and "seats" not in errors:
        taken = await seats_taken(session_id)
        if seats < taken:
            errors["seats"] = (f"{taken} personne(s) sont déjà inscrites ou en cours d'inscription : "
                               f"le nombre de places ne peut pas être inférieur à {taken}.")
    if form.certificate_text is not None:
        from app.services.certificates import template_errors

        problem = template_errors(form.certificate_text)
        if problem:
            errors["certificate_text"] = problem
        elif len(form.certificate_text) > 5000:
            errors["certificate_text"] = "Le texte de l'attestation ne peut pas dépasser 5 000 caractères."
    slot_list = None
    if form.slots is not None:
        from app.services import slots as slot_service

        slot_list, problem = slot_service.parse(form.slots, start, end)
        if not problem and session_id:
            problem = await slot_service.removed_with_attendance(session_id, slot_list)
        if problem:
            errors["slots"] = problem
    min_attendance = current["min_attendance_percent"] if current else None
    if form.min_attendance is not None:
        typed = form.min_attendance.strip().rstrip("%").strip()
        min_attendance = None  # empty: the platform's (issue 20); 0 is an explicit « no condition »
        if typed:
            min_attendance = to_int(typed, low=0, high=100)
            if min_attendance is None:
                errors["min_attendance"] = ("La présence minimale est un pourcentage entier de 0 à 100 "
                                            "(ou vide : celle de la plateforme).")
    if form.remote_url and not re.match(r"^https?://[^\s/]+\.[^\s]+$", form.remote_url):
        errors["remote_url"] = "Le lien de la session à distance doit être une adresse web (https://…)."
    for key, label, value, limit in (("place", "Le lieu", form.place, 1000), ("remote_url", "Le lien", form.remote_url, 500),
                                     ("contact", "Le contact", form.contact, 255),
                                     ("what_to_bring", "La liste « À apporter »", form.what_to_bring, 2000)):
        if value is not None and len(value) > limit and key not in errors:
            errors[key] = f"{label} ne peut pas dépasser {limit} caractères."
    if errors:
        raise ValidationFailed(errors)
    if not code:
        code = current["code"] if current else await next_code(start, template["code"] if template else "X00")
    values = {
        TrainingSession.establishment: establishment_id, TrainingSession.full_name: full_name,
        TrainingSession.short_name: short_name, TrainingSession.visible: form.visible,
        TrainingSession.start_date: start, TrainingSession.end_date: end, TrainingSession.id_number: form.id_number,
        TrainingSession.code: code, TrainingSession.seats: seats,
        TrainingSession.search_text: search_text(code, full_name, short_name),
    }
    if template is not None:
        values[TrainingSession.template] = template["id"]
    if session_id and form.certificate_text is not None and form.certificate_text != current["certificate_text"]:
        values[TrainingSession.certificate_text] = form.certificate_text
        values[TrainingSession.certificate_version] = current["certificate_version"] + 1
    if session_id:
        values[TrainingSession.min_attendance_percent] = min_attendance
    for column, value in ((TrainingSession.place, form.place), (TrainingSession.remote_url, form.remote_url),
                          (TrainingSession.contact, form.contact), (TrainingSession.what_to_bring, form.what_to_bring)):
        if session_id and value is not None:
            values[column] = value
    if session_id and form.auto_convocations is not None:
        values[TrainingSession.auto_convocations] = form.auto_convocations == "1"
    notify = True
    if session_id:
        changed = await _invitation_changed(current, values, slot_list)
        notify, renamed_to = await _confirmed(current, form, values, slot_list, changed)
        if renamed_to:
            values[TrainingSession.full_name] = renamed_to
            if short_name == current["short_name"] and stale_name(short_name, start, end):
                values[TrainingSession.short_name] = renamed(short_name, start, end)
            values[TrainingSession.search_text] = search_text(code, renamed_to, values[TrainingSession.short_name])
    async with fields_unique():
        if session_id:
            issued: list[int] = []
            slots_changed = False
            if slot_list is not None:  # (slot_service imported with the parsing above)
                slots_changed = slot_list != await slot_service.for_session(session_id)
            async with db.transaction():
                await TrainingSession.update(values).where(TrainingSession.id == session_id)
                if slots_changed:
                    await slot_service.replace(session_id, slot_list)
                if changed:
                    from app.services import convocations

                    await convocations.on_session_changed(session_id, notify=notify)
                if slots_changed or min_attendance != current["min_attendance_percent"]:
                    # Hours attended and the completion rule depend on the slots and the minimum.
                    from app.services.learning import refresh_and_issue

                    issued = await refresh_and_issue(session_id=session_id)
            if issued:
                from app.services.certificates import seal

                await seal(issued)
            return session_id
        row = await TrainingSession.insert(TrainingSession(values)).returning(TrainingSession.id)
    return row[0]["id"]


async def _confirmed(current: dict, form: SessionForm, values: dict, slot_list, changed: bool) -> tuple[bool, str | None]:
    """The confirmation step of a settings change (issue 20): (tell the learners?, new name or None).
    Raises NeedsConfirmation while a question is unanswered: learners would be mailed (« Enregistrer
    préviendra N inscrits », with the choice not to), or the dates move and the name states the old ones
    (rename offered, the proposed name shown)."""
    from app.services import convocations
    from app.services import slots as slot_service

    start, end = values[TrainingSession.start_date], values[TrainingSession.end_date]
    name = values[TrainingSession.full_name]
    proposed = None
    if (start, end) != (current["start_date"], current["end_date"]) and name == current["full_name"] \
            and stale_name(name, start, end):
        proposed = renamed(name, start, end)
    count, what = 0, []
    if changed:
        after_slots = slot_list if slot_list is not None else await slot_service.for_session(current["id"])
        place = values.get(TrainingSession.place, current["place"])
        link = values.get(TrainingSession.remote_url, current["remote_url"])
        count = await convocations.would_notify(current["id"], bool(after_slots) and bool(place or link))
        labels = (("start_date", "dates"), ("end_date", "dates"), ("place", "lieu"), ("remote_url", "lien"))
        what = list(dict.fromkeys(label for column, label in labels
                                  if getattr(TrainingSession, column) in values
                                  and values[getattr(TrainingSession, column)] != current[column]))
        if slot_list is not None and slot_list != await slot_service.for_session(current["id"]):
            what.insert(0, "horaires")
    if (count and form.notify not in ("0", "1")) or (proposed and form.rename not in ("0", "1")):
        raise NeedsConfirmation(count, what, proposed, name)
    return form.notify != "0", proposed if form.rename == "1" else None


async def _invitation_changed(current: dict, values: dict, slot_list) -> bool:
    """Whether a settings change alters what the calendar invitations state: dates, place, link or
    slots (then every invitation gets a new SEQUENCE and the convoked learners an update)."""
    from app.services import slots as slot_service

    for column in (TrainingSession.start_date, TrainingSession.end_date, TrainingSession.place,
                   TrainingSession.remote_url):
        if column in values and values[column] != current[column._meta.name]:
            return True
    return slot_list is not None and slot_list != await slot_service.for_session(current["id"])
