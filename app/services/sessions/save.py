"""« Créer une session de formation » (SPEC B2) and the session's settings page: the form's
checks, the confirmation step (issue 20) and what saving changes."""

from __future__ import annotations

from dataclasses import dataclass

from app import db
from app.services import convocations, slots
from app.services.certificates import seal
from app.services.learning import refresh_and_issue
from app.services.roles import CurrentUser
from app.services.session_names import propose_full_name, renamed, stale_name
from app.services.sessions.form import SessionForm
from app.services.sessions.manage import next_code
from app.services.sessions.validate import CheckedSession, validate
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
    """Create a session, or save its settings (its establishment and template stay as they are):
    validate -> persist -> ``after_session_change``."""
    checked = await validate(user, form, session_id)
    values = await _column_values(form, checked, session_id)
    if not session_id:
        async with fields_unique():
            row = await TrainingSession.insert(TrainingSession(values)).returning(TrainingSession.id)
        return row[0]["id"]
    change = await _settings_change(form, checked, values)
    async with fields_unique():
        async with db.transaction():
            await TrainingSession.update(values).where(TrainingSession.id == session_id)
            issued = await after_session_change(session_id, change)
        if issued:
            await seal(issued)
    return session_id


async def _column_values(form: SessionForm, checked: CheckedSession, session_id: int | None) -> dict:
    """The columns saving writes. The settings page's own fields only when it posted them (None
    otherwise); the certificate text with a new version when it changed."""
    current = checked.current
    code = checked.code
    if not code:
        code = current["code"] if current else await next_code(
            checked.start, checked.template["code"] if checked.template else "X00")
    values = {
        TrainingSession.establishment: checked.establishment_id, TrainingSession.full_name: checked.full_name,
        TrainingSession.short_name: checked.short_name, TrainingSession.visible: form.visible,
        TrainingSession.start_date: checked.start, TrainingSession.end_date: checked.end,
        TrainingSession.id_number: form.id_number, TrainingSession.code: code, TrainingSession.seats: checked.seats,
        TrainingSession.search_text: search_text(code, checked.full_name, checked.short_name),
    }
    if checked.template is not None:
        values[TrainingSession.template] = checked.template["id"]
    if not session_id:
        return values
    if form.certificate_text is not None and form.certificate_text != current["certificate_text"]:
        values[TrainingSession.certificate_text] = form.certificate_text
        values[TrainingSession.certificate_version] = current["certificate_version"] + 1
    values[TrainingSession.min_attendance_percent] = checked.min_attendance
    for column, value in ((TrainingSession.place, form.place), (TrainingSession.remote_url, form.remote_url),
                          (TrainingSession.contact, form.contact), (TrainingSession.what_to_bring, form.what_to_bring)):
        if value is not None:
            values[column] = value
    if form.auto_convocations is not None:
        values[TrainingSession.auto_convocations] = form.auto_convocations
    if form.fse_cofinanced is not None:
        values[TrainingSession.fse_cofinanced] = form.fse_cofinanced
    if form.signing_grace is not None:
        values[TrainingSession.signing_grace] = form.signing_grace
    if form.delivery:
        values[TrainingSession.delivery] = form.delivery
    return values


@dataclass
class SettingsChange:
    """What a save of the settings page changes, as ``after_session_change`` acts on it."""

    slot_list: list[slots.Slot] | None
    slots_changed: bool
    invitation_changed: bool  # what the calendar invitations state (dates, place, link, slots)
    notify: bool  # the manager's answer: tell the convoked learners
    attendance_rule_changed: bool  # the minimum attendance


async def _settings_change(form: SessionForm, checked: CheckedSession, values: dict) -> SettingsChange:
    """What this save changes, once the manager has answered the confirmation step (raises
    NeedsConfirmation until then); a rename the manager accepted is put into ``values``."""
    current, slot_list = checked.current, checked.slot_list
    slots_changed = slot_list is not None and slot_list != await slots.for_session(current["id"])
    changed = _invitation_changed(current, values, slots_changed)
    notify, renamed_to = await _confirmed(current, form, values, slot_list, slots_changed, changed)
    if renamed_to:
        _rename(values, current, renamed_to)
    return SettingsChange(slot_list, slots_changed, changed, notify,
                          checked.min_attendance != current["min_attendance_percent"])


def _rename(values: dict, current: dict, renamed_to: str) -> None:
    """The accepted new name; the short name too when it was left as it was and states the old dates."""
    start, end = values[TrainingSession.start_date], values[TrainingSession.end_date]
    short_name = values[TrainingSession.short_name]
    values[TrainingSession.full_name] = renamed_to
    if short_name == current["short_name"] and stale_name(short_name, start, end):
        values[TrainingSession.short_name] = renamed(short_name, start, end)
    values[TrainingSession.search_text] = search_text(values[TrainingSession.code], renamed_to,
                                                      values[TrainingSession.short_name])


async def after_session_change(session_id: int, change: SettingsChange) -> list[int]:
    """What a saved settings change sets off, in the save's transaction, one rule each. Returns the
    enrolments that got a certificate, for the caller to seal after commit."""
    await _replace_slots(session_id, change)
    await _tell_convoked_learners(session_id, change)
    return await _refresh_completion(session_id, change)


async def _replace_slots(session_id: int, change: SettingsChange) -> None:
    if change.slots_changed:
        await slots.replace(session_id, change.slot_list)


async def _tell_convoked_learners(session_id: int, change: SettingsChange) -> None:
    """A change of what the invitations state gives each one a new SEQUENCE; the convoked learners
    are mailed the update unless the manager chose not to."""
    if change.invitation_changed:
        await convocations.on_session_changed(session_id, notify=change.notify)


async def _refresh_completion(session_id: int, change: SettingsChange) -> list[int]:
    """Hours attended and the completion rule depend on the slots and the minimum attendance."""
    if change.slots_changed or change.attendance_rule_changed:
        return await refresh_and_issue(session_id=session_id)
    return []


async def _confirmed(current: dict, form: SessionForm, values: dict, slot_list, slots_changed: bool,
                     changed: bool) -> tuple[bool, str | None]:
    """The confirmation step of a settings change (issue 20): (tell the learners?, new name or None).
    Raises NeedsConfirmation while a question is unanswered: learners would be mailed (« Enregistrer
    préviendra N inscrits », with the choice not to), or the dates move and the name states the old ones
    (rename offered, the proposed name shown)."""
    start, end = values[TrainingSession.start_date], values[TrainingSession.end_date]
    name = values[TrainingSession.full_name]
    proposed = None
    if (start, end) != (current["start_date"], current["end_date"]) and name == current["full_name"] \
            and stale_name(name, start, end):
        proposed = renamed(name, start, end)
    count, what = 0, []
    if changed:
        after_slots = slot_list if slot_list is not None else await slots.for_session(current["id"])
        place = values.get(TrainingSession.place, current["place"])
        link = values.get(TrainingSession.remote_url, current["remote_url"])
        count = await convocations.would_notify(current["id"], bool(after_slots) and bool(place or link))
        labels = (("start_date", "dates"), ("end_date", "dates"), ("place", "lieu"), ("remote_url", "lien"))
        what = list(dict.fromkeys(label for column, label in labels
                                  if getattr(TrainingSession, column) in values
                                  and values[getattr(TrainingSession, column)] != current[column]))
        if slots_changed:
            what.insert(0, "horaires")
    if (count and form.notify is None) or (proposed and form.rename is None):
        raise NeedsConfirmation(count, what, proposed, name)
    return form.notify is not False, proposed if form.rename else None


def _invitation_changed(current: dict, values: dict, slots_changed: bool) -> bool:
    """Whether a settings change alters what the calendar invitations state: dates, place, link or
    slots (then every invitation gets a new SEQUENCE and the convoked learners an update)."""
    for column in (TrainingSession.start_date, TrainingSession.end_date, TrainingSession.place,
                   TrainingSession.remote_url):
        if column in values and values[column] != current[column._meta.name]:
            return True
    return slots_changed
