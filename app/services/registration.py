"""Online registration (seed 003, SPEC F1-F3): the public wizard's draft, the submission, the
e-mail confirmation, and the back-office workflow (steps 6 to 10), every transition recorded.

A draft lives in the database, keyed by a random value kept in the visitor's cookie: it survives a
reload and a browser restart. Links sent by mail are signed (itsdangerous) and expire; the
confirmation link is single use (a nonce cleared when it is used).

Mail to an organisation typed by an anonymous requester ("Je n'ai pas trouvé ma collectivité")
never leaves before a manager has looked at it: the bulletin (BI) for its validating instance is
written to the outbox *held* ("En attente : établissement à vérifier"), the registration managers
get their copy at once with a word about it, and the held mail leaves — to the address the manager
has checked, possibly corrected — when they reference the organisation. A request cancelled
meanwhile drops its held mail. So the platform never sends a PDF and someone's free text to an
address nobody has reviewed.

Seats: see app/services/seats.py (one count, checked in a locked transaction at every step that
takes or keeps one: submission, confirmation, and the back office's steps 6, 8 and 10).

Notifications after the confirmation are sent once: ``notified_at`` is claimed in the transaction
that writes the mails. The job is a durable run recorded with the confirmation: if Redis refused it
(or it was lost), the job sweep (app/jobs/durable.py) enqueues it again.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from piccolo.query.functions.aggregate import Count

from app import db
from app.dates import date_fr, datetime_fr, now, today
from app.numbers import to_int
from app.services import outbox, seats
from app.services.accounts import EMAIL_RE, normalise_email
from app.services.errors import DomainError, NotFound, ValidationFailed
from app.services.ratelimit import Limit
from app.services.roles import CurrentUser
from app.services.text import Multiline, loose, loose_search_text, search
from app.services.uniqueness import INTEGRITY_ERRORS, message_for
from app.settings import get_settings
from app.tables.catalogue import TrainingSession
from app.tables.registration import Organisation, RefItem, RegistrationRequest, RequestEvent

log = logging.getLogger(__name__)

STEPS = [
    "Session", "Mode de financement", "Établissement", "Informations sur le stagiaire", "Mandat",
    "Contraintes alimentaires", "Handicap", "Données supplémentaires", "Conditions générales",
]
STATUS_LABELS = {
    "draft": "Brouillon",
    "awaiting_confirmation": "En attente de confirmation de l'adresse",
    "confirmed": "Adresse confirmée — en attente de l'instance",
    "waiting_list": "Liste d'attente",
    "instance_validated": "Validée par l'instance (BI signé)",
    "credentials_sent": "Identifiants envoyés",
    "completed": "Inscription définitive",
    "refused": "Refusée",
    "cancelled": "Annulée",
}
OPEN_STATUSES = ["awaiting_confirmation", "confirmed", "waiting_list", "instance_validated", "credentials_sent"]
# Confirmed (address checked): the notifications with the BI are due.
NOTIFIABLE = ["confirmed", "waiting_list", "instance_validated", "credentials_sent"]
YES_NO = {"yes": "Oui", "no": "Non"}
CONFIRM_MAX_AGE = int(seats.CONFIRMATION_VALID.total_seconds())
POSTAL_RE = re.compile(r"^[0-9]{5}$")
PHONE_RE = re.compile(r"^[0-9 +().-]{10,20}$")
BI_CATEGORY = "registration-bi"  # the BI to the validating instance
BI_COPY_CATEGORY = "registration-bi-copy"  # the operator's identical copy


# The mails an anonymous visitor can cause to an address (confirmation links, follow links): at
# most this many an hour per recipient, whoever asks and from wherever.
RECIPIENT_MAILS = Limit("registration-recipient", 3, 3600)
RECIPIENT_CAP_NOTE = f" (au plus {RECIPIENT_MAILS.limit} courriels par heure pour une même adresse)"
RECIPIENT_CAPPED = (f"Nous ne pouvons pas envoyer d'autre courriel à cette adresse pour le moment{RECIPIENT_CAP_NOTE} : "
                    "réessayez dans une heure. Vos réponses sont conservées.")


# Providers whose mailboxes ignore the dots of the local part (a.lice@ and alice@ are one inbox).
DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def recipient_key(email: str) -> str:
    """One key per mailbox: lower case, without a « +suffix » (alice+1@ and alice+2@ are one inbox),
    and at Gmail without dots nor the googlemail alias (EMAIL_RE refuses quotes and groups)."""
    local, _, domain = normalise_email(email).rpartition("@")
    local = local.split("+", 1)[0]
    if domain in DOTLESS_DOMAINS:
        local, domain = local.replace(".", ""), DOTLESS_DOMAINS[domain]
    return f"{local}@{domain}"


async def _may_mail(redis, email: str) -> bool:
    """Count one mail a visitor causes to ``email``; False past the cap (then nothing is sent)."""
    return await RECIPIENT_MAILS.allow(redis, recipient_key(email))


def greeting(r: dict) -> str:
    """« Bonjour Léa, » once the address is confirmed (the name on one line); before, « Bonjour, »:
    nothing a visitor typed goes to an address nobody has confirmed."""
    name = " ".join(str(r.get("first_name") or "").split())
    return f"Bonjour {name}," if r.get("confirmed_at") is not None and name else "Bonjour,"


OPERATOR_DEFAULT = "l'opérateur de formation"  # until an administrator names the operator


async def operator_name() -> str:
    """The operator's name as the platform setting gives it (« Réglages » of the back office), for
    the consents of the wizard and every mail that names the operator."""
    return (await outbox.get_setting("operator_name")).strip() or OPERATOR_DEFAULT


def capfirst(text: str) -> str:
    return text[:1].upper() + text[1:]


class RegistrationClosed(DomainError):
    status_code = 400


# -- typed forms (parsed by the controllers, app/http/forms.py) -----------------------------------
@dataclass
class StartForm:
    code: str = ""
    action: str = "new"  # new, login, resume, follow


@dataclass
class FundingForm:
    funding: int | None = None


@dataclass
class OrganisationForm:
    organisation: int | None = None
    use_existing: int | None = None  # "Oui, c'est ma collectivité": the close match proposed
    create_anyway: bool = False  # "Non, c'est une autre collectivité"
    not_found: bool = False
    org_name: str = ""
    org_postal_code: str = ""
    org_city: str = ""
    org_email: str = ""


@dataclass
class TraineeForm:
    civility: str = ""
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    email_confirm: str = ""
    postal_code: str = ""
    phone: str = ""
    expectations: Multiline = ""


@dataclass
class MandateForm:
    mandate: int | None = None
    mandate_year: str = ""


@dataclass
class DietaryForm:
    dietary: str = ""
    dietary_details: Multiline = ""


@dataclass
class DisabilityForm:
    disability: bool = False


@dataclass
class ConsentsForm:
    consent_carpool: str = ""
    consent_mailing: str = ""
    consent_image: str = ""


@dataclass
class TermsForm:
    cgv: bool = False


STEP_FORMS = {2: FundingForm, 3: OrganisationForm, 4: TraineeForm, 5: MandateForm, 6: DietaryForm,
              7: DisabilityForm, 8: ConsentsForm, 9: TermsForm}


@dataclass
class Navigation:
    """The wizard's buttons: go = next, previous, cancel or search (with ``q``)."""

    go: str = "next"
    q: str = ""


@dataclass
class FollowForm:
    email: str = ""
    reference: str = ""


@dataclass
class ActionForm:
    reason: str = ""
    # Step 6 while the BI never left (held for an unreviewed organisation, no address, not sent yet):
    # the manager confirms it explicitly (the signed BI came another way).
    bi_never_sent: bool = False


def request_key(request_id: int) -> str:
    """The group key of every mail about one request (shown on its back-office page)."""
    return f"request:{request_id}"


def _signer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().security.secret_key, salt=salt)


def session_dates(session: dict, slot_list: list | None = None) -> str:
    """"Du vendredi 2 octobre 2026, 11:00 au vendredi 2 octobre 2026, 12:15" from the session's
    time slots; the days only when it has none (no invented hours)."""
    if not slot_list:
        return f"Du {date_fr(session['start_date'])} au {date_fr(session['end_date'])}"
    tz = ZoneInfo(get_settings().timezone)
    start = datetime.combine(slot_list[0].day, slot_list[0].starts, tz)
    end = datetime.combine(slot_list[-1].day, slot_list[-1].ends, tz)
    return f"Du {datetime_fr(start)} au {datetime_fr(end)}"


async def _with_slots(session: dict) -> dict:
    """The session's dates from its slots, the slots day by day, its place (wizard header)."""
    from app.services import slots

    slot_list = await slots.for_session(session["id"])
    session["dates"] = session_dates(session, slot_list)
    session["slot_days"] = slots.by_day(slot_list)
    return session


async def open_session(code: str) -> dict:
    """The session a requester may register to, or RegistrationClosed with the reason."""
    code = (code or "").strip().upper()
    session = await TrainingSession.select(
        TrainingSession.all_columns(), TrainingSession.template.title.as_alias("title"),
    ).where(TrainingSession.code == code).first()
    if session is None or not session["visible"]:
        raise RegistrationClosed(f"Aucune session ouverte à l'inscription ne porte le code « {code} ». Vérifiez le code.")
    if session["start_date"] <= today():
        raise RegistrationClosed("Cette session a déjà commencé ou est passée : les inscriptions sont closes.")
    session["title"] = session["title"] or session["full_name"]
    await _with_slots(session)
    session["taken"] = await seats.seats_taken(session["id"])
    session["full"] = bool(session["seats"]) and session["taken"] >= session["seats"]
    return session


async def open_session_by_id(session_id: int) -> dict:
    """The session of a draft, for its title and dates on every step."""
    session = await TrainingSession.select(
        TrainingSession.all_columns(), TrainingSession.template.title.as_alias("title"),
    ).where(TrainingSession.id == session_id).first()
    if session is None:
        raise RegistrationClosed("Cette session n'existe plus.")
    session["title"] = session["title"] or session["full_name"]
    return await _with_slots(session)


# -- the draft ----------------------------------------------------------------------------------
async def cancel_draft(draft: dict) -> None:
    await RegistrationRequest.delete().where(
        (RegistrationRequest.id == draft["id"]) & (RegistrationRequest.status == "draft"))


async def draft_for(key: str | None) -> dict | None:
    if not key:
        return None
    return await RegistrationRequest.select(
        RegistrationRequest.all_columns(), RegistrationRequest.session.code.as_alias("session_code"),
    ).where((RegistrationRequest.draft_key == key) & (RegistrationRequest.status == "draft")).first()


async def start_draft(key: str, session: dict, user: CurrentUser | None) -> dict:
    """A new draft for this visitor (an older draft of theirs is replaced)."""
    await RegistrationRequest.delete().where(
        (RegistrationRequest.draft_key == key) & (RegistrationRequest.status == "draft"))
    values = dict(reference=f"R{now():%y}-{secrets.token_hex(3).upper()}", draft_key=key, session=session["id"], step=2)
    if user is not None:
        # "J'ai déjà un compte": the trainee fields come prefilled.
        values.update(user=user.id, first_name=user.first_name, last_name=user.last_name, email=user.email)
    await RegistrationRequest.insert(RegistrationRequest(**values))
    return await draft_for(key)


async def move_draft(draft: dict, session: dict) -> None:
    """Back on step 1, another session chosen: the answers are kept."""
    await RegistrationRequest.update({RegistrationRequest.session: session["id"]}).where(
        (RegistrationRequest.id == draft["id"]) & (RegistrationRequest.status == "draft"))


def prefilled(draft: dict, user: CurrentUser | None) -> dict:
    """The draft's values as the trainee step shows them: a logged-in requester's name and address
    fill what is still empty, and the address is already confirmed when it is their account's, or
    when the step was validated before (the requester typed it twice then)."""
    values = dict(draft)
    if user is not None:
        for key, value in (("first_name", user.first_name), ("last_name", user.last_name), ("email", user.email)):
            if not values.get(key) and value:
                values[key] = value
    email = values.get("email") or ""
    if email and (draft["step"] > 4 or (user is not None and email == normalise_email(user.email))):
        values.setdefault("email_confirm", email)
    return values


async def choices(kind: str) -> list[tuple[str, str]]:
    rows = await RefItem.select(RefItem.id, RefItem.label).where(
        (RefItem.kind == kind) & (RefItem.hidden == False)).order_by(RefItem.position)  # noqa: E712
    return [(str(r["id"]), r["label"]) for r in rows]


PENDING_MARK = "(en attente de vérification)"  # an organisation typed by a requester, not reviewed yet


def _offered():
    """The organisations a requester may pick: every one, referenced or still waiting for review
    (so nobody types again the one a colleague typed yesterday), but neither hidden nor merged."""
    return (Organisation.hidden == False) & Organisation.merged_into.is_null()  # noqa: E712


async def search_organisations(q: str) -> list[dict]:
    """The wizard's search (step 3): accent-, case- and hyphen-insensitive on every database."""
    query = Organisation.select(Organisation.id, Organisation.name, Organisation.postal_code, Organisation.city,
                                Organisation.referenced).where(_offered()).order_by(Organisation.name).limit(20)
    clause = search(Organisation.search_text, loose(q))
    if clause is not None:
        query = query.where(clause)
    return await query


async def close_organisation(name: str, postal_code: str, city: str, exclude: int | None = None) -> dict | None:
    """An organisation a requester is about to type again: the same name (folded, punctuation
    aside) in the same postal code or city. The referenced one first."""
    key, town = loose(name), loose(city)
    if not key:
        return None
    where = Organisation.postal_code == postal_code
    if town:
        where = where | Organisation.search_text.like(f"%{town}%")
    query = Organisation.select(Organisation.id, Organisation.name, Organisation.postal_code, Organisation.city,
                                Organisation.referenced).where(_offered() & where).order_by(
        Organisation.referenced, ascending=False).order_by(Organisation.id)
    if exclude:
        query = query.where(Organisation.id != exclude)
    for row in await query:
        same_place = (postal_code and row["postal_code"] == postal_code) or (town and loose(row["city"]) == town)
        if same_place and loose(row["name"]) == key:
            return row
    return None


def _yes_no(value: str) -> str:
    return value if value in YES_NO else ""


async def _save_organisation_typed(draft: dict, form: OrganisationForm) -> int:
    """The organisation a requester could not find, stored "non référencé" for a manager to review.
    Going back to this step and sending it again corrects it rather than adding another."""
    values = {Organisation.name: form.org_name[:255], Organisation.postal_code: form.org_postal_code,
              Organisation.city: form.org_city[:100], Organisation.validation_email: normalise_email(form.org_email),
              Organisation.search_text: loose_search_text(form.org_name[:255], form.org_postal_code, form.org_city[:100])}
    own = draft.get("organisation")
    if own:
        reusable = await Organisation.exists().where((Organisation.id == own) & (Organisation.referenced == False))  # noqa: E712
        others = await RegistrationRequest.exists().where(
            (RegistrationRequest.organisation == own) & (RegistrationRequest.id != draft["id"]))
        if reusable and not others:
            await Organisation.update(values).where(Organisation.id == own)
            return own
    row = await Organisation.insert(Organisation(**{c._meta.name: v for c, v in values.items()}, referenced=False)).returning(
        Organisation.id)
    return row[0]["id"]


async def save_step(draft: dict, step: int, form) -> int:
    """Validate and store one step (``form``: the step's typed form, STEP_FORMS); returns the next
    step. ValidationFailed keeps the typed values."""
    errors: dict[str, str] = {}
    values: dict = {}
    if step == 2:
        allowed = {int(v) for v, _ in await choices("funding_method")}
        if form.funding not in allowed:
            errors["funding"] = "Choisissez une méthode de financement."
        else:
            values[RegistrationRequest.funding] = form.funding
    elif step == 3:
        if form.not_found and not form.use_existing:
            if not form.org_name:
                errors["org_name"] = "Indiquez le nom de votre collectivité ou établissement."
            if not POSTAL_RE.match(form.org_postal_code):
                errors["org_postal_code"] = "Code postal : 5 chiffres."
            if form.org_email and not EMAIL_RE.match(normalise_email(form.org_email)):
                errors["org_email"] = "Adresse de courriel invalide."
            if not errors and not form.create_anyway:
                match = await close_organisation(form.org_name, form.org_postal_code, form.org_city,
                                                 exclude=draft.get("organisation"))
                if match:
                    errors["org_match"] = (
                        f"« {match['name']} » ({match['postal_code']} {match['city']}) est déjà enregistrée : "
                        "choisissez-la, ou indiquez qu'il s'agit d'une autre collectivité.")
            if not errors:
                values[RegistrationRequest.organisation] = await _save_organisation_typed(draft, form)
        else:
            chosen = form.use_existing or form.organisation
            ok = chosen and await Organisation.exists().where((Organisation.id == chosen) & _offered())
            if not ok:
                errors["organisation"] = "Choisissez votre collectivité dans la liste, ou indiquez que vous ne l'avez pas trouvée."
            else:
                values[RegistrationRequest.organisation] = chosen
    elif step == 4:
        email, confirm = normalise_email(form.email), normalise_email(form.email_confirm)
        if form.civility not in ("M.", "Mme"):
            errors["civility"] = "Choisissez votre civilité."
        if not form.first_name:
            errors["first_name"] = "Le prénom est obligatoire."
        if not form.last_name:
            errors["last_name"] = "Le nom de famille est obligatoire."
        if not EMAIL_RE.match(email):
            errors["email"] = "Adresse de courriel invalide."
        elif email != confirm:
            errors["email_confirm"] = "Les deux adresses de courriel ne correspondent pas."
        if not POSTAL_RE.match(form.postal_code):
            errors["postal_code"] = "Code postal : 5 chiffres."
        if form.phone and not PHONE_RE.match(form.phone):
            errors["phone"] = "Numéro de téléphone invalide."
        values.update({
            RegistrationRequest.civility: form.civility if form.civility in ("M.", "Mme") else "",
            RegistrationRequest.first_name: form.first_name[:100], RegistrationRequest.last_name: form.last_name[:100],
            RegistrationRequest.email: email[:254], RegistrationRequest.postal_code: form.postal_code[:10],
            RegistrationRequest.phone: form.phone[:30], RegistrationRequest.expectations: form.expectations[:4000],
        })
    elif step == 5:
        allowed = {int(v) for v, _ in await choices("candidate_state")}
        year = form.mandate_year
        if form.mandate not in allowed:
            errors["mandate"] = "Choisissez le mandat au titre duquel vous sollicitez cette formation."
        else:
            values[RegistrationRequest.mandate] = form.mandate
        if year and to_int(year, low=1950, high=today().year) is None:
            errors["mandate_year"] = f"Année invalide (entre 1950 et {today().year})."
        values[RegistrationRequest.mandate_year] = year[:4]
    elif step == 6:
        dietary = _yes_no(form.dietary)
        if not dietary:
            errors["dietary"] = "Répondez par oui ou non."
        elif dietary == "yes" and not form.dietary_details:
            errors["dietary_details"] = "Merci de préciser vos contraintes alimentaires."
        values.update({RegistrationRequest.dietary: dietary,
                       RegistrationRequest.dietary_details: form.dietary_details[:2000] if dietary == "yes" else ""})
    elif step == 7:
        values[RegistrationRequest.disability] = form.disability
    elif step == 8:
        for key, column in (("consent_carpool", RegistrationRequest.consent_carpool),
                            ("consent_mailing", RegistrationRequest.consent_mailing),
                            ("consent_image", RegistrationRequest.consent_image)):
            answer = _yes_no(getattr(form, key))
            if not answer:
                errors[key] = "Répondez par oui ou non."
            values[column] = answer
    elif step == 9:
        if not form.cgv:
            errors["cgv"] = "Vous devez accepter les conditions générales pour envoyer votre demande."
        values[RegistrationRequest.cgv_accepted] = form.cgv
    if values:
        # Typed values are kept even when invalid, so the form shows them again.
        await RegistrationRequest.update(values).where(RegistrationRequest.id == draft["id"])
    if errors:
        raise ValidationFailed(errors)
    next_step = min(step + 1, 9)
    await RegistrationRequest.update({RegistrationRequest.step: max(draft["step"], next_step)}).where(
        RegistrationRequest.id == draft["id"])
    return next_step


def _missing_steps(draft: dict) -> list[int]:
    checks = {2: draft["funding"], 3: draft["organisation"], 4: draft["email"] and draft["last_name"],
              5: draft["mandate"], 6: draft["dietary"], 8: draft["consent_carpool"] and draft["consent_mailing"]
              and draft["consent_image"], 9: draft["cgv_accepted"]}
    return [step for step, ok in checks.items() if not ok]


async def submit(draft: dict, redis, user: CurrentUser | None = None) -> dict:
    """"Envoyer ma demande d'inscription": the draft becomes a request awaiting the confirmation of
    its address, holding a seat — or on the waiting list when every seat is held. A double submit
    changes nothing. A requester who logged in on the way has the request tied to their account."""
    missing = _missing_steps(draft)
    if missing:
        raise ValidationFailed({"cgv": f"L'étape {missing[0]} ({STEPS[missing[0] - 1]}) est incomplète."})
    if not await _may_mail(redis, draft["email"]):
        raise ValidationFailed({"cgv": RECIPIENT_CAPPED})
    nonce = secrets.token_urlsafe(16)
    async with seats.guarded(draft["session"]) as limit:
        free = await seats.free_seats(draft["session"], limit, ahead_of=draft)
        values = {
            RegistrationRequest.status: "awaiting_confirmation", RegistrationRequest.draft_key: "",
            RegistrationRequest.confirmation_nonce: nonce, RegistrationRequest.submitted_at: now(),
            RegistrationRequest.waiting_list: free is not None and free <= 0,
        }
        if user is not None and not draft["user"]:
            values[RegistrationRequest.user] = user.id
        claimed = await RegistrationRequest.update(values).where(
            (RegistrationRequest.id == draft["id"]) & (RegistrationRequest.status == "draft")).returning(
            RegistrationRequest.id)
        if not claimed:
            return draft
        await _event(draft["id"], None, "Demande envoyée", "draft", "awaiting_confirmation",
                     "Session complète : liste d'attente." if values[RegistrationRequest.waiting_list] else "")
        mail_id = await _confirmation_mail(draft, nonce)
    await outbox.dispatch(redis, [mail_id])
    return await RegistrationRequest.select().where(RegistrationRequest.id == draft["id"]).first()


async def _confirmation_mail(request: dict, nonce: str) -> int:
    token = _signer("confirm").dumps({"id": request["id"], "nonce": nonce})
    link = f"{get_settings().base_url}/inscription/confirmer/{token}"
    # The address is not confirmed yet: nothing the visitor typed goes in (greeting).
    body = (f"{greeting(request)}\n\nNous avons bien reçu votre demande d'inscription "
            f"(référence {request['reference']}).\n\nPour la transmettre, confirmez votre adresse de courriel en "
            f"suivant ce lien (valable 7 jours, une seule fois) :\n{outbox.SECRET_MARK}\n\n"
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n")
    # The link is the mail's secret: the back office never shows it (it would confirm the address).
    return await outbox.queue_mail([request["email"]], "Confirmez votre adresse pour votre demande d'inscription", body,
                                   category="registration-confirm", group_key=request_key(request["id"]), secret=link)


async def _event(request_id: int, actor: int | None, action: str, before: str, after: str, note: str = "") -> None:
    await RequestEvent.insert(RequestEvent(request=request_id, actor=actor, action=action, from_status=before,
                                           to_status=after, note=note))


class LinkProblem(DomainError):
    status_code = 400

    def __init__(self, message: str, request_id: int | None = None):
        super().__init__(message)
        self.request_id = request_id


def read_link(salt: str, token: str, expired: str, invalid: str) -> dict:
    """The payload of a signed link of ours, or LinkProblem with the French reason."""
    try:
        payload = _signer(salt).loads(token, max_age=CONFIRM_MAX_AGE)
    except SignatureExpired as exc:
        raise LinkProblem(expired) from exc
    except BadSignature as exc:
        raise LinkProblem(invalid) from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("id"), int):
        raise LinkProblem(invalid)
    return payload


async def confirm(token: str, redis) -> dict:
    """Follow the confirmation link: the request is confirmed once — on the waiting list if the
    seats are all held by people ahead of it — and its notifications are queued. If the queue
    refuses the job, the request stays confirmed and the job sweep sends them (its run is durable)."""
    payload = read_link("confirm", token, "Ce lien de confirmation a expiré (il est valable 7 jours).",
                        "Ce lien de confirmation n'est pas valide.")
    request = await RegistrationRequest.select().where(RegistrationRequest.id == payload.get("id")).first()
    if request is None:
        raise LinkProblem("Cette demande n'existe plus.")
    if not request["confirmation_nonce"] or request["confirmation_nonce"] != payload.get("nonce"):
        raise LinkProblem("Ce lien a déjà été utilisé : votre adresse est confirmée.", request["id"])
    async with seats.guarded(request["session"]) as limit:
        target = "confirmed"
        if request["waiting_list"]:
            target = "waiting_list"
        elif limit:
            free = await seats.free_seats(request["session"], limit, ahead_of=request)
            if free <= 0:
                target = "waiting_list"
        claimed = await RegistrationRequest.update({
            RegistrationRequest.status: target, RegistrationRequest.confirmation_nonce: "",
            RegistrationRequest.confirmed_at: now(), RegistrationRequest.waiting_list: target == "waiting_list",
        }).where((RegistrationRequest.id == request["id"]) & (RegistrationRequest.confirmation_nonce == payload["nonce"])
                 & (RegistrationRequest.status == "awaiting_confirmation")).returning(RegistrationRequest.id)
        if not claimed:
            raise LinkProblem("Ce lien a déjà été utilisé : votre adresse est confirmée.", request["id"])
        await _event(request["id"], None, "Adresse confirmée", request["status"], target,
                     "Session complète : liste d'attente." if target == "waiting_list" else "")
        from app.jobs import kinds as jobs

        # A durable run, committed with the confirmation: if Redis refuses it, the job sweep sends it.
        await jobs.REQUEST_NOTIFICATIONS.submit(redis, request["id"])
    request["status"] = target
    return request


async def resend_confirmation(email: str, reference: str, redis) -> bool:
    """A new confirmation link (the old one stops working). Says nothing about unknown requests."""
    request = await RegistrationRequest.select().where(
        (RegistrationRequest.email == normalise_email(email))
        & (RegistrationRequest.reference == (reference or "").strip().upper())
        & (RegistrationRequest.status == "awaiting_confirmation")).first()
    if request is None or not await _may_mail(redis, request["email"]):
        return False
    nonce = secrets.token_urlsafe(16)
    async with db.transaction():
        await RegistrationRequest.update({RegistrationRequest.confirmation_nonce: nonce}).where(
            RegistrationRequest.id == request["id"])
        mail_id = await _confirmation_mail(request, nonce)
    await outbox.dispatch(redis, [mail_id])
    return True


# -- details and the BI -------------------------------------------------------------------------
async def request_details(request_id: int) -> dict:
    row = await RegistrationRequest.select(
        RegistrationRequest.all_columns(),
        RegistrationRequest.session.full_name.as_alias("session_name"),
        RegistrationRequest.session.code.as_alias("session_code"),
        RegistrationRequest.session.start_date.as_alias("start_date"),
        RegistrationRequest.session.end_date.as_alias("end_date"),
        RegistrationRequest.session.establishment.as_alias("session_establishment"),
        RegistrationRequest.session.template.title.as_alias("session_title"),
        RegistrationRequest.funding.label.as_alias("funding_label"),
        RegistrationRequest.mandate.label.as_alias("mandate_label"),
        RegistrationRequest.organisation.name.as_alias("organisation_name"),
        RegistrationRequest.organisation.referenced.as_alias("organisation_referenced"),
        RegistrationRequest.organisation.validation_email.as_alias("instance_email"),
        RegistrationRequest.user.username.as_alias("username"),
    ).where(RegistrationRequest.id == request_id).first()
    if row is None:
        raise NotFound("Demande introuvable.")
    row["status_label"] = STATUS_LABELS.get(row["status"], row["status"])
    return row


def bulletin_context(r: dict) -> dict:
    yes_no = {**YES_NO, "": "—"}
    return {
        "reference": r["reference"], "generated": datetime_fr(now()),
        "session": {"title": r["session_title"] or r["session_name"], "code": r["session_code"],
                    "dates": session_dates({"start_date": r["start_date"], "end_date": r["end_date"]})},
        "trainee": {"civility": r["civility"], "first_name": r["first_name"], "last_name": r["last_name"],
                    "email": r["email"], "postal_code": r["postal_code"], "phone": r["phone"],
                    "expectations": r["expectations"]},
        "funding": r["funding_label"] or "—",
        "organisation": (r["organisation_name"] or "—") + ("" if r["organisation_referenced"] in (True, None) else " (non référencé)"),
        "mandate": r["mandate_label"] or "—", "mandate_year": r["mandate_year"],
        "dietary": f"Oui : {r['dietary_details']}" if r["dietary"] == "yes" else "Non",
        "disability": "Oui : un aménagement est nécessaire" if r["disability"] else "Non",
        "consents": [("Liste diffusée aux participants (covoiturage)", yes_no.get(r["consent_carpool"], "—")),
                     ("Liste de diffusion de l'offre de formation", yes_no.get(r["consent_mailing"], "—")),
                     ("Droit à l'image", yes_no.get(r["consent_image"], "—"))],
    }


async def operator_addresses() -> list[str]:
    from app.services.roles import REGISTRATION_MANAGER
    from app.tables.accounts import RoleAssignment

    rows = await RoleAssignment.select(RoleAssignment.user.email.as_alias("email")).where(
        RoleAssignment.role == REGISTRATION_MANAGER)
    addresses = {r["email"] for r in rows if r["email"]}
    copy = await outbox.get_setting("operator_copy_email")
    if copy:
        addresses.add(copy)
    return sorted(addresses)


def _instance_body(r: dict, context: dict, operator: str) -> str:
    return (f"Bonjour,\n\n{r['civility']} {r['first_name']} {r['last_name']} demande à suivre la formation "
            f"« {context['session']['title']} » ({context['session']['dates']}).\n\nVous trouverez en pièce "
            f"jointe son bulletin d'inscription (BI), à signer et retourner à {operator}.\n")


async def send_notifications(request_id: int, redis) -> int:
    """After the confirmation (F2): the requester gets the code and details; the organisation's
    validating instance gets the BI as a PDF, and the operator an identical copy. Once per request,
    whoever calls it (the job, the sweep, both at once): ``notified_at`` is claimed in the
    transaction that writes the mails. Returns how many mails were written."""
    from app.pdf.render import render_pdf

    r = await request_details(request_id)
    if r["notified_at"] is not None or r["status"] not in NOTIFIABLE:
        return 0
    context = bulletin_context(r)
    pdf = await render_pdf("pdf/bulletin.html", context)
    attachment = outbox.Attachment(f"bulletin_inscription_{r['reference']}.pdf", "application/pdf", pdf)
    waiting = r["status"] == "waiting_list"
    requester_body = (
        f"Bonjour {r['first_name']},\n\nVotre adresse est confirmée. Votre demande d'inscription {r['reference']} "
        f"concerne la session {context['session']['code']} :\n{context['session']['title']}\n{context['session']['dates']}\n\n"
        + ("La session est complète : vous êtes sur liste d'attente. Nous vous écrirons si une place se libère.\n"
           if waiting else
           "Attention : votre inscription n'est pas encore validée. Votre collectivité va recevoir votre bulletin "
           "d'inscription à signer.\n"))
    instance_body = _instance_body(r, context, await operator_name())
    instance = r["instance_email"]
    reviewed = r["organisation_referenced"] is not False
    copy_subject = f"[Copie] Bulletin d'inscription {r['reference']} à valider"
    copy_body = instance_body
    if instance and not reviewed:
        copy_subject = f"[À vérifier] Bulletin d'inscription {r['reference']} : établissement non référencé"
        copy_body = (
            f"{instance_body}\nL'établissement « {r['organisation_name']} » a été saisi par le demandeur et n'est pas "
            f"encore référencé : le bulletin n'est pas envoyé à l'adresse qu'il a indiquée ({instance}). Vérifiez "
            f"l'établissement et son adresse dans la gestion des inscriptions :\n{get_settings().base_url}/gestion-inscriptions/"
            f"etablissements/{r['organisation']}/modifier\nDès que vous le référencez, le bulletin part à son "
            "instance de validation.\n")
    if not instance:
        note = "Aucune adresse d'instance de validation pour cet établissement."
    elif not reviewed:
        note = "Bulletin pour l'instance en attente : établissement non référencé, à vérifier."
    else:
        note = ""
    ids = []
    async with db.transaction():
        claimed = await RegistrationRequest.update({RegistrationRequest.notified_at: now()}).where(
            (RegistrationRequest.id == request_id) & RegistrationRequest.notified_at.is_null()).returning(
            RegistrationRequest.id)
        if not claimed:
            return 0
        ids.append(await outbox.queue_mail([r["email"]], f"Votre demande d'inscription {r['reference']}", requester_body,
                                           category="registration", group_key=request_key(r["id"])))
        if instance:
            mail_id = await outbox.queue_mail([instance], f"Bulletin d'inscription {r['reference']} à valider",
                                              instance_body, attachments=[attachment], category=BI_CATEGORY,
                                              group_key=request_key(r["id"]), held=not reviewed)
            if reviewed:
                ids.append(mail_id)
        operators = await operator_addresses()
        if operators:
            ids.append(await outbox.queue_mail(operators, copy_subject, copy_body, attachments=[attachment],
                                               category=BI_COPY_CATEGORY, group_key=request_key(r["id"])))
        await _event(request_id, None, "Notifications envoyées", r["status"], r["status"], note)
    await outbox.dispatch(redis, ids)
    return len(ids)


async def release_held_bulletins(organisation_id: int, redis) -> int:
    """A manager has referenced this organisation: the BIs held for it leave now, to the address
    the organisation has now (the manager may have corrected the one the requester typed); a
    request closed meanwhile drops its mail. Returns how many left."""
    org = await Organisation.select().where(Organisation.id == organisation_id).first()
    if org is None or not org["referenced"]:
        return 0
    requests = await RegistrationRequest.select(RegistrationRequest.id, RegistrationRequest.status).where(
        RegistrationRequest.organisation == organisation_id)
    keys_open = [request_key(r["id"]) for r in requests if r["status"] in OPEN_STATUSES]
    keys_closed = [request_key(r["id"]) for r in requests if r["status"] not in OPEN_STATUSES]
    async with db.transaction():
        if keys_closed:
            await outbox.drop_held(keys_closed, "Non envoyé : la demande a été close avant la vérification de "
                                                "l'établissement.")
        released = await outbox.release_held(keys_open, [org["validation_email"]] if org["validation_email"] else [])
        status = {request_key(r["id"]): r["status"] for r in requests}
        for mail in released:
            request_id = int(mail["group_key"].split(":", 1)[1])
            sent = mail["status"] == "queued"
            await _event(request_id, None, "Établissement vérifié : bulletin envoyé à l'instance" if sent else
                         "Établissement vérifié, sans adresse : bulletin non envoyé", status[mail["group_key"]],
                         status[mail["group_key"]], mail["recipients"])
    await outbox.dispatch(redis, [m["id"] for m in released if m["status"] == "queued"])
    return sum(1 for m in released if m["status"] == "queued")


async def counts_by_status() -> dict[str, int]:
    rows = await RegistrationRequest.select(RegistrationRequest.status, Count(RegistrationRequest.id, alias="n")).group_by(
        RegistrationRequest.status)
    return {r["status"]: r["n"] for r in rows}


# -- the back-office workflow (F3) ----------------------------------------------------------------
WORKFLOW = {
    # action: (from status, to status, label)
    "validate_instance": ("confirmed", "instance_validated", "6. Validation instance (BI signé)"),
    "validate_operator": ("instance_validated", "credentials_sent", "8. Validation opérateur"),
    "validate_requester": ("credentials_sent", "completed", "10. Validation demandeur"),
}
# The steps that cannot be undone ask for a confirmation first (a page, with or without JavaScript).
CONFIRMED_ACTIONS = {"validate_operator", "validate_requester"}


async def waiting_count() -> int:
    """Requests waiting for a back-office step (6, 8 or 10): the daily task's count."""
    return await RegistrationRequest.count().where(
        RegistrationRequest.status.is_in([before for before, _, _ in WORKFLOW.values()]))


def next_action(status: str) -> str | None:
    return next((action for action, (before, _, _) in WORKFLOW.items() if before == status), None)


BI_STATES = {
    "held": "le bulletin est retenu : l'établissement « {org} » n'est pas encore vérifié et référencé",
    "none": "aucun bulletin n'a été envoyé (pas d'adresse d'instance de validation, ou notifications pas encore "
            "parties)",
    "pending": "le bulletin est en cours d'envoi, il n'est pas encore parti",
    "failed": "l'envoi du bulletin a échoué",
}


async def bulletin_state(request_id: int) -> str:
    """Where the request's BI to its validating instance is: "sent" (it left), "pending" (queued,
    being sent or retried), "held" (an unreviewed organisation), "failed" (given up), "none"."""
    from app.tables.outbox import Mail

    rows = await Mail.select(Mail.status).where(
        (Mail.group_key == request_key(request_id)) & (Mail.category == BI_CATEGORY))
    statuses = {r["status"] for r in rows}
    for state, among in (("sent", {"sent"}), ("pending", {"queued", "sending", "retry"}), ("held", {outbox.HELD}),
                         ("failed", {"failed"})):
        if statuses & among:
            return state
    return "none"


def bulletin_problem(r: dict, state: str) -> str:
    """Why « BI signé » cannot be recorded with one click: the BI never left."""
    return (f"Le bulletin d'inscription n'est jamais parti vers l'instance de validation : "
            f"{BI_STATES[state].format(org=r['organisation_name'] or '—')}.")


async def confirmation_details(request_id: int, action: str) -> tuple[dict, str, list[str]]:
    """What the confirmation page of a step says: (request, question, what will happen). Step 6 is
    asked only while the BI has not left."""
    r = await request_details(request_id)
    state = await bulletin_state(request_id) if action == "validate_instance" else ""
    if action not in CONFIRMED_ACTIONS and not (action == "validate_instance" and state != "sent"):
        raise NotFound("Action inconnue.")
    label = WORKFLOW[action][2]
    who = f"{r['civility']} {r['first_name']} {r['last_name']}".strip()
    if action == "validate_instance":
        details = [bulletin_problem(r, state),
                   "Confirmez seulement si le BI signé vous est parvenu par un autre moyen : la validation sera "
                   "enregistrée comme « BI jamais parti » et un bulletin retenu ne partira plus.",
                   f"{who} sera prévenu(e) que son inscription n'est pas encore validée."]
    elif action == "validate_operator":
        account = await _existing_account(r)
        details = ([f"{who} a déjà un compte ({account['username']}) : il lui sera rappelé par courriel à {r['email']}."]
                   if account else
                   [f"Un compte de stagiaire externe sera créé pour {who}, rattaché à « {r['organisation_name']} » "
                    "(et non à l'établissement de la session).",
                    f"Ses identifiants (nom d'utilisateur et mot de passe) lui seront envoyés par courriel à {r['email']}."])
    else:
        details = [f"{who} sera inscrit(e) à la session {r['session_code']} et en sera informé(e) par courriel.",
                   "La demande sera close (inscription définitive)."]
    return r, f"« {label} » pour la demande {r['reference']} ?", details


async def _existing_account(r: dict) -> dict | None:
    from app.tables.accounts import User

    # Never a deactivated account (nobody logs in with it; its address is free for a new one).
    active = User.deactivated_at.is_null()
    if r["user"]:
        user = await User.select(User.id, User.username).where((User.id == r["user"]) & active).first()
        if user is not None:
            return user
    return await User.select(User.id, User.username).where((User.email == r["email"]) & active).order_by(User.id).first()


async def _move(request: dict, actor: CurrentUser | None, action: str, before: str | list[str], after: str,
                note: str = "") -> bool:
    """The status change, claimed on the status it had (a double click or a race changes nothing)."""
    befores = before if isinstance(before, list) else [before]
    claimed = await RegistrationRequest.update({RegistrationRequest.status: after}).where(
        (RegistrationRequest.id == request["id"]) & RegistrationRequest.status.is_in(befores)).returning(RegistrationRequest.id)
    if not claimed:
        return False
    await _event(request["id"], actor.id if actor else None, action, request["status"], after, note)
    return True


async def _check_seat(r: dict, label: str, limit: int | None) -> None:
    """Inside ``seats.guarded`` (``limit``: the seats it read): the request still has a seat, first
    come, first served."""
    if not limit:
        return
    free = await seats.free_seats(r["session"], limit, ahead_of=r)
    if free <= 0:
        raise seats.SessionFull(f"« {label} » est impossible : {seats.full_message(limit, free)}")


async def _closing_mails(r: dict, word: str, reason: str, by_requester: bool) -> list[int]:
    """A request refused or cancelled: the requester is told; the validating instance, if it has
    received the BI, and the operator (when the requester did it) are told too. A BI still held for
    an unreviewed organisation is dropped."""
    key = request_key(r["id"])
    ids = []
    motive = f"\n\nMotif : {reason}" if reason else ""
    ids.append(await outbox.queue_mail(
        [r["email"]], f"Votre demande d'inscription {r['reference']} est {word}",
        f"{greeting(r)}\n\nVotre demande d'inscription {r['reference']} à la session "
        f"{r['session_code']} est {word}{' à votre demande' if by_requester else ''}.{motive}\n",
        category="registration", group_key=key))
    await outbox.drop_held([key], f"Non envoyé : la demande a été {word} avant la vérification de l'établissement.")
    who = f"{r['civility']} {r['first_name']} {r['last_name']}".strip()
    notice = (f"Bonjour,\n\nLa demande d'inscription {r['reference']} de {who} à la session {r['session_code']} "
              f"({r['session_title'] or r['session_name']}) est {word}"
              f"{' par le demandeur' if by_requester else ''}.{motive}\n\nLe bulletin d'inscription reçu pour "
              "cette demande est sans objet.\n")
    instance = await outbox.delivered_recipients(key, BI_CATEGORY)
    if instance:
        ids.append(await outbox.queue_mail(instance, f"Demande d'inscription {r['reference']} {word}", notice,
                                           category="registration", group_key=key))
    if by_requester:
        operators = await operator_addresses()
        if operators:
            ids.append(await outbox.queue_mail(operators, f"[Copie] Demande d'inscription {r['reference']} {word}",
                                               notice, category="registration", group_key=key))
    return ids


async def apply_action(actor: CurrentUser, request_id: int, action: str, redis, reason: str = "",
                       bi_never_sent: bool = False) -> dict:
    """One workflow step, in the seed's order; an out-of-order click is refused and changes nothing.
    Steps 6, 8 and 10 check again, in the transaction, that the request still has a seat. Step 6
    (« BI signé ») waits for the BI to have left, unless ``bi_never_sent`` confirms it never did (a
    BI still held is then closed unsent). A request closed (step 10) closes its held BI."""
    r = await request_details(request_id)
    mail_ids: list[int] = []
    if action in ("refuse", "cancel"):
        if r["status"] not in OPEN_STATUSES:
            raise DomainError(f"Cette demande est close (état : {r['status_label']}).")
        if action == "refuse" and not reason.strip():  # a cancellation may go without one
            raise ValidationFailed({"reason": "Indiquez le motif du refus : il est envoyé au demandeur."})
        after = "refused" if action == "refuse" else "cancelled"
        word = "refusée" if action == "refuse" else "annulée"
        async with db.transaction():
            if not await _move(r, actor, "Refus" if action == "refuse" else "Annulation", OPEN_STATUSES, after,
                               reason.strip()):
                raise DomainError("Cette demande vient d'être close.")
            mail_ids += await _closing_mails(r, word, reason.strip(), by_requester=False)
    elif action in WORKFLOW:
        before, after, label = WORKFLOW[action]
        if r["status"] != before:
            raise DomainError(
                f"« {label} » n'est pas possible à cette étape (état actuel : {r['status_label']}).")
        note = ""
        if action == "validate_instance":
            state = await bulletin_state(r["id"])
            if state != "sent" and not bi_never_sent:
                raise ValidationFailed({"bi": bulletin_problem(r, state) + " Attendez son envoi, ou confirmez que le "
                                       "BI signé vous est parvenu par un autre moyen (bouton « "
                                       f"{label} »)."})
            if state != "sent":
                note = "BI jamais parti par la plateforme : BI signé reçu par un autre moyen (confirmé)."
        async with seats.guarded(r["session"]) as limit:
            await _check_seat(r, label, limit)
            if not await _move(r, actor, label, before, after, note):
                raise DomainError(f"« {label} » vient d'être fait ou n'est plus possible à cette étape.")
            if action == "validate_instance" and note:
                await outbox.drop_held([request_key(r["id"])], "Non envoyé : BI signé reçu par un autre moyen "
                                                                "(étape 6 confirmée sans envoi).")
            if action == "validate_instance":
                # 7. the requester is told the registration is not validated yet.
                mail_ids.append(await outbox.queue_mail(
                    [r["email"]], f"Demande {r['reference']} : inscription pas encore validée",
                    f"Bonjour {r['first_name']},\n\nVotre collectivité a validé votre bulletin d'inscription. Attention : "
                    f"votre inscription n'est pas encore validée ; {await operator_name()} va l'examiner.\n",
                    category="registration", group_key=request_key(r["id"])))
            elif action == "validate_operator":
                # 9. an account (new, or the person's existing one) and its credentials.
                mail_ids.append(await _account_and_credentials(r, actor))
            else:
                from app.services.enrolments import add_sources
                from app.tables.learning import SourceKind

                await add_sources(r["session"], [r["user"]], SourceKind.registration, request=r["id"], by=actor.id)
                await outbox.drop_held([request_key(r["id"])], "Non envoyé : la demande est close (inscription "
                                                                "définitive).")
                mail_ids.append(await outbox.queue_mail(
                    [r["email"]], f"Inscription définitive à la session {r['session_code']}",
                    f"Bonjour {r['first_name']},\n\nVotre inscription est définitive : vous êtes inscrit(e) à la session "
                    f"{r['session_code']}. Connectez-vous sur {get_settings().base_url}/connexion pour la suivre.\n",
                    category="registration", group_key=request_key(r["id"])))
    else:
        raise NotFound("Action inconnue.")
    await outbox.dispatch(redis, mail_ids)
    if action == "validate_requester":
        from app.services import convocations

        await convocations.dispatch_pending(redis, [r["session"]])  # the convocation add_sources wrote
    return await request_details(request_id)


async def _account_and_credentials(r: dict, actor: CurrentUser) -> int:
    """Reuse the person's account (logged in when requesting, or same e-mail) or create one: never a
    second account for the same person. A new account is an external trainee's (README « Accounts »):
    attached to the request's organisation, not to the session's establishment, named by the
    external rule ``ext.<initiale>.<nom>``; a GET sees them only as participants of their sessions."""
    import asyncio

    from app.services.accounts import external_username, free_username
    from app.services.passwords import generate_password, hash_password
    from app.services.roles import LEARNER
    from app.services.text import user_text_fields
    from app.tables.accounts import RoleAssignment, User

    # Two validations of one person at once (two requests): the second waits for the first's
    # account, then reuses it (the unique index on the address is the guarantee behind this).
    await db.lock_name(f"account-email:{r['email']}")
    user = await _existing_account(r)
    url = f"{get_settings().base_url}/connexion"
    operator = await operator_name()
    if user is not None:
        await RegistrationRequest.update({RegistrationRequest.user: user["id"]}).where(RegistrationRequest.id == r["id"])
        r["user"] = user["id"]
        body = (f"Bonjour {r['first_name']},\n\nVotre inscription a été validée par {operator}. Vous avez déjà un "
                f"compte : connectez-vous sur {url} avec votre nom d'utilisateur {user['username']} et votre mot de "
                "passe habituel.\n")
        return await outbox.queue_mail([r["email"]], "Vos identifiants pour votre inscription", body, category="registration", group_key=request_key(r["id"]))
    username = await free_username(external_username(r["first_name"], r["last_name"]))
    password = generate_password()
    password_hash = await asyncio.to_thread(hash_password, password)
    try:
        row = await User.insert(User(
            username=username, password_hash=password_hash, first_name=r["first_name"], last_name=r["last_name"],
            email=r["email"], establishment=None, organisation=r["organisation"], external=True, status="elected",
            force_password_change=True,
            **user_text_fields(r["first_name"], r["last_name"], username, r["email"]))).returning(User.id)
    except INTEGRITY_ERRORS as exc:  # an account made meanwhile by another path (a manager, an import)
        field, message = message_for(exc)
        raise DomainError(message + (" Recommencez : la demande sera rattachée à ce compte." if field == "email"
                                     else " Recommencez.")) from exc
    await RoleAssignment.insert(RoleAssignment(user=row[0]["id"], role=LEARNER, establishment=None, granted_by=actor.id))
    await RegistrationRequest.update({RegistrationRequest.user: row[0]["id"]}).where(RegistrationRequest.id == r["id"])
    r["user"] = row[0]["id"]
    body = (f"Bonjour {r['first_name']},\n\nVotre inscription a été validée par {operator}. Voici vos identifiants :\n\n"
            f"Adresse de la plateforme : {url}\nNom d'utilisateur : {username}\nMot de passe : {outbox.SECRET_MARK}\n\n"
            "Vous devrez choisir un nouveau mot de passe à votre première connexion.\n")
    return await outbox.queue_mail([r["email"]], "Vos identifiants pour votre inscription", body, category="registration",
                                   group_key=request_key(r["id"]), secret=password)


# -- follow or cancel a request (requester side) --------------------------------------------------
async def send_follow_link(email: str, reference: str, redis) -> int | None:
    request = await RegistrationRequest.select().where(
        (RegistrationRequest.email == normalise_email(email))
        & (RegistrationRequest.reference == (reference or "").strip().upper())
        & (RegistrationRequest.status != "draft")).first()
    if request is None or not await _may_mail(redis, request["email"]):
        return None
    token = _signer("follow").dumps({"id": request["id"]})
    link = f"{get_settings().base_url}/inscription/suivi/{token}"
    return await outbox.queue_mail([request["email"]], f"Suivi de votre demande {request['reference']}",
                                   f"{greeting(request)}\n\nPour suivre ou annuler votre demande, suivez "
                                   f"ce lien (valable 7 jours) :\n{outbox.SECRET_MARK}\n", category="registration-follow",
                                   group_key=request_key(request["id"]), secret=link)


async def followed_request(token: str) -> dict:
    payload = read_link("follow", token, "Ce lien de suivi a expiré : demandez-en un nouveau.",
                        "Ce lien de suivi n'est pas valide.")
    return await request_details(payload["id"])


async def cancel_by_requester(token: str, redis) -> dict:
    """"Annuler ma demande" through the follow link: the same mails as a cancellation by the back
    office, and the operator told as well."""
    r = await followed_request(token)
    if r["status"] not in OPEN_STATUSES:
        raise DomainError(f"Cette demande est close (état : {r['status_label']}).")
    mail_ids: list[int] = []
    async with db.transaction():
        if await _move(r, None, "Annulée par le demandeur", OPEN_STATUSES, "cancelled"):
            mail_ids = await _closing_mails(r, "annulée", "", by_requester=True)
    await outbox.dispatch(redis, mail_ids)
    return await request_details(r["id"])


# -- resume a draft on another device (issue 20) ---------------------------------------------------
# Once the e-mail step is done, the requester may have a link mailed to finish the draft elsewhere
# (started on a phone, finished on a PC). The link is signed and expires like the follow link; it
# names the draft and a digest of its cookie key, so it works once: taking the draft over gives it a
# new key (the new browser's cookie), which ends the old browser's hold and the link with it. The
# address is not confirmed yet: the mail carries nothing the visitor typed, only the link.
RESUME_SALT = "resume"


def _key_digest(key: str) -> str:
    import hashlib

    return hashlib.sha256(f"resume:{key}".encode()).hexdigest()[:32]


async def send_resume_link(draft: dict) -> int:
    """The mail with the link to take this draft over elsewhere (the caller dispatches it)."""
    token = _signer(RESUME_SALT).dumps({"id": draft["id"], "k": _key_digest(draft["draft_key"])})
    link = f"{get_settings().base_url}/inscription/reprendre/{token}"
    body = ("Bonjour,\n\nPour reprendre votre demande d'inscription en cours sur un autre appareil, suivez ce lien "
            f"(valable 7 jours, une seule fois) :\n{outbox.SECRET_MARK}\n\n"
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n")
    async with db.transaction():
        return await outbox.queue_mail([draft["email"]], "Reprendre votre demande d'inscription", body,
                                       category="registration-resume", group_key=request_key(draft["id"]), secret=link)


async def resumable_draft(token: str) -> dict:
    """The draft a resume link names, or LinkProblem with the French reason."""
    import hmac

    payload = read_link(RESUME_SALT, token, "Ce lien pour reprendre votre demande a expiré (il est valable 7 jours).",
                        "Ce lien pour reprendre une demande n'est pas valide.")
    draft = await RegistrationRequest.select(
        RegistrationRequest.all_columns(), RegistrationRequest.session.code.as_alias("session_code"),
    ).where(RegistrationRequest.id == payload["id"]).first()
    if draft is None or draft["status"] != "draft":
        raise LinkProblem("Cette demande en cours n'existe plus : elle a été envoyée ou abandonnée.")
    if not hmac.compare_digest(_key_digest(draft["draft_key"]), str(payload.get("k", ""))):
        raise LinkProblem("Ce lien a déjà servi : la demande a été reprise sur un autre appareil. Demandez-en un "
                          "nouveau depuis celui-ci.")
    return draft


async def take_over_draft(token: str) -> tuple[str, dict]:
    """The draft moves to this browser: a new cookie key (returned), claimed on the old one."""
    draft = await resumable_draft(token)
    key = secrets.token_urlsafe(24)
    claimed = await RegistrationRequest.update({RegistrationRequest.draft_key: key}).where(
        (RegistrationRequest.id == draft["id"]) & (RegistrationRequest.draft_key == draft["draft_key"])
        & (RegistrationRequest.status == "draft")).returning(RegistrationRequest.id)
    if not claimed:
        raise LinkProblem("Ce lien a déjà servi : la demande a été reprise sur un autre appareil.")
    return key, draft
