"""Training sessions of an establishment (SPEC B2) and the content import from a template (B3).

Session codes (public registration, F1): `<YY><catalogue code>S<n>` — the two last digits of the
start year, the template's catalogue code, then the rank of this session among the sessions of
that template starting that year (26C03S1, 26C03S2, …). A session created before its content is
imported, or without a template, uses the catalogue code `X00`. The code can also be typed; it
must then be unique.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import date

from app import db
from app.dates import now
from app.numbers import to_int
from app.services import progress
from app.services.errors import DomainError, NotFound, ScopeError, ValidationFailed
from app.services.roles import CurrentUser
from app.services.scope import establishment_scope
from app.services.seats import seats_taken  # the one count of seats, shown on the session pages
from app.services.text import Multiline, search, search_text
from app.services.uniqueness import fields_unique
from app.tables.learning import Enrolment
from app.tables.catalogue import (
    ContentImport,
    CourseTemplate,
    SessionActivity,
    TemplateActivity,
    TrainingSession,
)

CODE_RE = re.compile(r"^[0-9]{2}[A-Z0-9]{1,8}S[0-9]{1,4}$")
IMPORT_SETTINGS = [
    ("permissions", "Inclure les dérogations de permissions"),
    ("files", "Inclure les fichiers"),
    ("badges", "Inclure les badges"),
    ("custom_fields", "Inclure les champs personnalisés"),
    ("obsolete_files", "Inclure les fichiers de cours obsolètes"),
]
IMPORT_STEPS = [
    "Sélection du contenu", "Réglages initiaux", "Réglages du schéma", "Confirmation et relecture",
    "Effectuer l'importation", "Terminer",
]


def propose_full_name(start: date | None, end: date | None, title: str) -> str:
    """`Session du dd-mm-yyyy au dd-mm-yyyy_<Titre de la formation>` (seed 000, step 3)."""
    if not start or not end:
        return ""
    return f"Session du {start:%d-%m-%Y} au {end:%d-%m-%Y}_{title}".strip("_")


_DATED_NAME = re.compile(r"^Session du (\d{2})-(\d{2})-(\d{4}) au (\d{2})-(\d{2})-(\d{4})")


def stale_name(full_name: str, start: date | None, end: date | None) -> bool:
    """Whether the name follows the nomenclature with dates other than the session's (issue 20)."""
    match = _DATED_NAME.match(full_name or "")
    if not match or not start or not end:
        return False
    g = match.groups()
    return (f"{g[0]}-{g[1]}-{g[2]}", f"{g[3]}-{g[4]}-{g[5]}") != (f"{start:%d-%m-%Y}", f"{end:%d-%m-%Y}")


def renamed(full_name: str, start: date, end: date) -> str:
    """The name with the session's dates in place of the ones it states (the rest kept as typed)."""
    return _DATED_NAME.sub(f"Session du {start:%d-%m-%Y} au {end:%d-%m-%Y}", full_name or "", count=1)


def name_for_documents(full_name: str, start: date | None, end: date | None) -> str:
    """The session's name as printed on a document (certificate, convocation, mail): never dates that
    contradict the session's — a name left stale by a change of dates states the dates of the session."""
    return renamed(full_name, start, end) if stale_name(full_name, start, end) else full_name


async def next_code(start: date, catalogue_code: str) -> str:
    prefix = f"{start:%y}{catalogue_code}S"
    rows = await TrainingSession.select(TrainingSession.code).where(TrainingSession.code.like(f"{prefix}%"))
    numbers = [int(r["code"][len(prefix):]) for r in rows if r["code"][len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1}"


async def session_in_scope(user: CurrentUser, session_id: int) -> dict:
    row = (
        await TrainingSession.select(
            TrainingSession.all_columns(),
            TrainingSession.establishment.code.as_alias("establishment_code"),
            TrainingSession.establishment.name.as_alias("establishment_name"),
            TrainingSession.template.title.as_alias("template_title"),
        )
        .where(TrainingSession.id == session_id)
        .first()
    )
    if row is None:
        raise NotFound("Session introuvable.")
    if not (await establishment_scope(user)).allows(row["establishment"]):
        raise ScopeError("Session introuvable.")
    return row


@dataclass
class SessionForm:
    """« Créer une session de formation » (SPEC B2) and the session's settings page."""

    template: int | None = None
    start_date: date | None = None
    end_date: date | None = None
    full_name: str = ""
    short_name: str = ""
    establishment: int | None = None
    visible: bool = False
    id_number: str = ""
    code: str = ""
    seats: str = ""
    # The certificate's text (D3), on the settings page only: None when the form has no such field.
    certificate_text: Multiline | None = None
    # Time slots and place (issue 12), also on the settings page only.
    slots: Multiline | None = None
    place: Multiline | None = None
    remote_url: str | None = None
    contact: str | None = None
    # Convocations (issue 12, X2), settings page only: « À apporter », and "1"/"0" for sending them
    # automatically on enrolment.
    what_to_bring: Multiline | None = None
    auto_convocations: str | None = None
    # « Présence minimale (%) » (issue 12), settings page only: "" for the platform's, "0" for none.
    min_attendance: str | None = None
    # The answers of the confirmation step (issue 20): "1"/"0" to tell the learners of a change of what
    # they were told (None: not asked yet), and to rename a session whose name states its old dates.
    notify: str | None = None
    rename: str | None = None

    def __post_init__(self) -> None:
        self.code = self.code.strip().upper()
        # A browser posts a textarea's lines with CRLF: stored as typed, an unchanged place looked changed
        # on every save (and mailed every convoked learner an « update », issue 20).
        for name in ("place", "what_to_bring"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value.replace("\r\n", "\n").replace("\r", "\n"))


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


async def cancel_session(user: CurrentUser, session_id: int) -> dict:
    """« Annuler la session »: it stays, with its records, marked cancelled; every learner who was
    convoked gets the cancellation of their invitation. Cannot be undone."""
    from app.services import convocations

    session = await session_in_scope(user, session_id)
    async with db.transaction():
        done = await TrainingSession.update({TrainingSession.cancelled_at: now()}).where(
            (TrainingSession.id == session_id) & TrainingSession.cancelled_at.is_null()).returning(TrainingSession.id)
        if not done:
            raise DomainError("Cette session est déjà annulée.")
        await convocations.on_session_cancelled(session_id)
    return session


async def set_visible(user: CurrentUser, session_id: int, visible: bool) -> dict:
    session = await session_in_scope(user, session_id)
    await TrainingSession.update({TrainingSession.visible: visible}).where(TrainingSession.id == session_id)
    return session


async def delete_session(user: CurrentUser, session_id: int) -> dict:
    """A session goes only while nothing was recorded in it: no one enrolled now, no one who ever
    visited or completed anything, no registration request still open. Otherwise: hide it."""
    from app.tables.learning import ActivityCompletion
    from app.services.registration import OPEN_STATUSES
    from app.tables.registration import RegistrationRequest

    session = await session_in_scope(user, session_id)
    enrolled = await Enrolment.count().where((Enrolment.session == session_id) & (Enrolment.active == True))  # noqa: E712
    if enrolled:
        raise DomainError(
            f"Cette session a {enrolled} inscription(s) active(s) : désinscrivez les participants "
            "(ou retirez la synchronisation de cohorte) avant de la supprimer, ou cachez-la."
        )
    recorded = await Enrolment.count().where(
        (Enrolment.session == session_id)
        & (Enrolment.last_visit.is_not_null() | Enrolment.id.is_in(ActivityCompletion.select(ActivityCompletion.enrolment)))
    )
    if recorded:
        raise DomainError(
            f"Cette session garde les traces de formation de {recorded} personne(s) (visites, activités "
            "achevées) : elle ne peut pas être supprimée. Cachez-la pour qu'elle n'apparaisse plus."
        )
    open_requests = await RegistrationRequest.count().where(
        (RegistrationRequest.session == session_id)
        & RegistrationRequest.status.is_in(OPEN_STATUSES))
    if open_requests:
        raise DomainError(
            f"{open_requests} demande(s) d'inscription en ligne sont en cours pour cette session : traitez-les "
            "(ou annulez-les) avant de la supprimer."
        )
    async with db.transaction():
        # Former enrolments with nothing recorded (enrolled by mistake, then removed) go with it.
        await Enrolment.delete().where(Enrolment.session == session_id)
        await TrainingSession.delete().where(TrainingSession.id == session_id)
    return session


# -- the content import wizard (B3) -------------------------------------------------------------
async def _latest_import(session_id: int) -> dict | None:
    return (
        await ContentImport.select(ContentImport.all_columns(), ContentImport.template.title.as_alias("template_title"))
        .where(ContentImport.session == session_id)
        .order_by(ContentImport.id, ascending=False)
        .first()
    )


async def current_import(user: CurrentUser, session_id: int) -> dict:
    """The wizard's state for this session: the latest run, or a new draft."""
    await session_in_scope(user, session_id)
    row = await _latest_import(session_id)
    if row is None:
        await ContentImport.insert(ContentImport(session=session_id, created_by=user.id, settings="files\ncustom_fields"))
        row = await _latest_import(session_id)
    return row


async def restart_import(user: CurrentUser, session_id: int) -> None:
    """A new wizard run after a finished one (the previous run stays as history)."""
    await session_in_scope(user, session_id)
    await ContentImport.insert(ContentImport(session=session_id, created_by=user.id, settings="files\ncustom_fields"))


@dataclass
class ImportStepForm:
    """One posted step of the content import wizard (B3)."""

    step: int | None = 1
    go: str = "next"  # next, previous, last, cancel, restart
    template: int | None = None
    setting: list[str] = field(default_factory=list)
    activity: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.step = min(max(self.step or 1, 1), 6)


async def search_templates(q: str) -> list[dict]:
    """Step 1's list of visible templates, searched accent- and case-insensitively."""
    query = CourseTemplate.select().where(CourseTemplate.visible == True).order_by(CourseTemplate.title)  # noqa: E712
    clause = search(CourseTemplate.search_text, q)
    return await (query.where(clause) if clause is not None else query)


async def visible_template_count() -> int:
    return await CourseTemplate.count().where(CourseTemplate.visible == True)  # noqa: E712


async def template_activities(template_id: int) -> list[dict]:
    return await TemplateActivity.select().where(TemplateActivity.template == template_id).order_by(
        TemplateActivity.position)


async def save_import_step(user: CurrentUser, session_id: int, form: ImportStepForm) -> None:
    state = await current_import(user, session_id)
    if state["status"] != "draft":
        raise DomainError("Cette importation est déjà lancée.")
    step, values = form.step, {}
    if step == 1:
        template = await CourseTemplate.select(CourseTemplate.id).where(
            (CourseTemplate.id == (form.template or 0)) & (CourseTemplate.visible == True)  # noqa: E712
        ).first()
        if template is None:
            raise ValidationFailed({"template": "Sélectionnez un cours dans la liste."})
        if template["id"] != state["template"]:
            # Another template: its activities replace the previous selection.
            ids = await TemplateActivity.select(TemplateActivity.id).where(TemplateActivity.template == template["id"])
            values[ContentImport.activity_ids] = ",".join(str(r["id"]) for r in ids)
        values[ContentImport.template] = template["id"]
    elif step == 2:
        keys = {k for k, _ in IMPORT_SETTINGS}
        values[ContentImport.settings] = "\n".join(k for k in form.setting if k in keys)
    elif step == 3:
        allowed = {
            str(r["id"])
            for r in await TemplateActivity.select(TemplateActivity.id).where(TemplateActivity.template == state["template"])
        }
        chosen = [i for i in form.activity if i in allowed]
        if not chosen:
            raise ValidationFailed({"activities": "Choisissez au moins une activité à importer."})
        values[ContentImport.activity_ids] = ",".join(chosen)
    if values:
        await ContentImport.update(values).where(ContentImport.id == state["id"])


async def launch_import(user: CurrentUser, session_id: int, redis, result_url: str) -> str:
    """Step 4 -> 5: lock the choices and enqueue the job (a double click launches it once)."""
    state = await current_import(user, session_id)
    if not state["template"] or not state["activity_ids"]:
        raise DomainError("Choisissez d'abord un cours et ses activités (étapes 1 à 3).")
    token = secrets.token_urlsafe(16)
    from app.jobs import kinds as jobs

    async with db.transaction():
        claimed = await ContentImport.update({ContentImport.status: "queued", ContentImport.token: token}).where(
            (ContentImport.id == state["id"]) & (ContentImport.status == "draft")
        ).returning(ContentImport.id)
        if not claimed:
            return state["token"]
        # The durable run commits with the launch; it reaches arq after the commit (or the sweep's).
        await jobs.CONTENT_IMPORT.submit(redis, state["id"], created_by=user.id)
    total = len(state["activity_ids"].split(","))
    await progress.best_effort(progress.start(redis, token, user.id, "Importation du contenu", total),
                               progress.update(redis, token, result_url=result_url, result_label="Continuer"))
    return token


async def give_up_content_imports(args_list: list[list], reason: str) -> int:
    """The job layer gave these content imports up (worker died on the last try, an operator
    aborted): back to a draft the manager may launch again (the copy is idempotent), not "running"
    for ever. Returns how many."""
    ids = [args[0] for args in args_list if args]
    if not ids:
        return 0
    rows = await ContentImport.update({ContentImport.status: "draft"}).where(
        ContentImport.id.is_in(ids) & ContentImport.status.is_in(["queued", "running"])).returning(ContentImport.id)
    return len(rows)


async def run_content_import(redis, import_id: int) -> int:
    """Copy the chosen activities and the certificate of the template into the session.
    Idempotent: an activity already copied from the same source is not copied again."""
    claimed = await ContentImport.update({ContentImport.status: "running"}).where(
        (ContentImport.id == import_id) & ContentImport.status.is_in(["queued", "running"])
    ).returning(ContentImport.session, ContentImport.template, ContentImport.activity_ids, ContentImport.token)
    if not claimed:
        return 0
    job = claimed[0]
    ids = [int(i) for i in job["activity_ids"].split(",") if i]
    await progress.update(redis, job["token"], state="running")
    template = await CourseTemplate.select().where(CourseTemplate.id == job["template"]).first()
    activities = await TemplateActivity.select().where(TemplateActivity.id.is_in(ids or [-1])).order_by(
        TemplateActivity.position
    )
    existing = {
        r["source"]
        for r in await SessionActivity.select(SessionActivity.source).where(SessionActivity.session == job["session"])
    }
    base = await SessionActivity.count().where(SessionActivity.session == job["session"])
    new = [a for a in activities if a["id"] not in existing]
    async with db.transaction():
        if new:
            await SessionActivity.insert(*[
                SessionActivity(session=job["session"], source=a["id"], position=base + i, kind=a["kind"],
                                title=a["title"], content=a["content"], required=a["required"],
                                completion=a["completion"], quiz=a["quiz"], pass_mark=a["pass_mark"],
                                video_url=a["video_url"], file=a["file"])
                for i, a in enumerate(new)
            ])
        text_changed = await TrainingSession.exists().where(
            (TrainingSession.id == job["session"]) & (TrainingSession.certificate_text != template["certificate_text"]))
        if text_changed:  # a certificate's snapshot says which version of the text made it
            await TrainingSession.update({TrainingSession.certificate_version: TrainingSession.certificate_version + 1}).where(
                TrainingSession.id == job["session"])
        await TrainingSession.update({
            TrainingSession.template: template["id"], TrainingSession.certificate_text: template["certificate_text"],
            TrainingSession.progress_block: template["progress_block"],
            TrainingSession.discussion_block: template["discussion_block"], TrainingSession.imported_at: now(),
        }).where(TrainingSession.id == job["session"])
        if new:  # new required activities change everyone's progress (a completed session may reopen)
            from app.services.learning import refresh_summaries

            await refresh_summaries(session_id=job["session"])
        await ContentImport.update({ContentImport.status: "done"}).where(ContentImport.id == import_id)
    await progress.update(redis, job["token"], state="done", done=len(ids))
    return len(new)


async def session_activities(session_id: int) -> list[dict]:
    """The activities learners see, in order (retired ones left out)."""
    return await SessionActivity.select().where(
        (SessionActivity.session == session_id) & SessionActivity.retired_at.is_null()).order_by(
        SessionActivity.position).order_by(SessionActivity.id)


async def category_counts(user: CurrentUser) -> list[dict]:
    """The seed's "Catégories de contenus": each delegation and establishment in scope with its
    session count (one grouped query)."""
    from piccolo.query.functions.aggregate import Count

    from app.services.scope import establishments_in_scope

    establishments = await establishments_in_scope(user)
    if not establishments:
        return []
    rows = await TrainingSession.select(TrainingSession.establishment, Count(TrainingSession.id, alias="n")).where(
        TrainingSession.establishment.is_in([e["id"] for e in establishments])
    ).group_by(TrainingSession.establishment)
    counts = {r["establishment"]: r["n"] for r in rows}
    categories, seen = [], {}
    for e in establishments:
        if e["delegation_id"] not in seen:
            seen[e["delegation_id"]] = {"name": e["delegation_name"], "code": e["delegation_code"], "count": 0,
                                        "level": 0, "id": None}
            categories.append(seen[e["delegation_id"]])
        seen[e["delegation_id"]]["count"] += counts.get(e["id"], 0)
        categories.append({"name": e["name"], "code": e["code"], "count": counts.get(e["id"], 0), "level": 1,
                           "id": e["id"]})
    return categories
