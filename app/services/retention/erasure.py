"""Erasure requests (issue 25, RGPD article 17). A person asks from « Mes données »; an administrator
handles the request from « Demandes de suppression » within a month:

- an account without any record of training is deleted;
- an account with some is restricted instead (the law requires the evidence to be kept: certificates,
  attendance and signatures, hours): pseudonymised now like the daily job does it, its evidence kept
  under the legal hold until the end of its retention, then deleted by the daily job;
- or the request is refused, with the reason.

The answer is mailed to the address the person had when asking, in the same transaction as the
decision; the request and its handling are in the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from app import db
from app.dates import date_fr, now
from app.services import audit, outbox
from app.services.account_actions import has_training_records, remove_account
from app.services.accounts import is_fictitious
from app.services.errors import NotFound, ValidationFailed
from app.services.registration.common import operator_name
from app.services.retention.job import BODY_ERASED, pseudonymise_where, relabel_audit
from app.services.retention.settings import periods
from app.services.roles import CurrentUser
from app.services.text import Multiline, fold_controls
from app.services.uniqueness import fields_unique
from app.tables.accounts import RoleAssignment
from app.tables.outbox import Mail
from app.tables.registration import RegistrationRequest
from app.tables.learning import Enrolment
from app.tables.privacy import ErasureRequest, ErasureStatus

MESSAGE_MAX = 2000
ANSWER_MAX = 5000
DELAY = timedelta(days=30)  # « dans les meilleurs délais et au plus tard dans un délai d'un mois »
STATUS_LABELS = {ErasureStatus.pending: "À traiter", ErasureStatus.erased: "Compte supprimé",
                 ErasureStatus.pseudonymised: "Compte pseudonymisé (preuves conservées)",
                 ErasureStatus.refused: "Refusée"}
NOT_FOUND = "Demande de suppression introuvable."
ALREADY = "Cette demande a déjà été traitée."


@dataclass
class AskForm:
    message: Multiline = Multiline("")


@dataclass
class HandleForm:
    decision: str = ""
    answer: Multiline = Multiline("")


async def ask(user: CurrentUser, message: str) -> int:
    """Record the person's request (one pending at a time: the database refuses a second)."""
    message = fold_controls((message or "").strip(), multiline=True)
    if len(message) > MESSAGE_MAX:
        raise ValidationFailed({"message": f"Le message ne peut pas dépasser {MESSAGE_MAX} caractères."})
    async with fields_unique(), db.transaction():
        row = await ErasureRequest.insert(ErasureRequest(
            person=user.id, person_label=f"{user.full_name} ({user.username})"[:300], email=user.email,
            message=message)).returning(ErasureRequest.id)
        await audit.record("erasure.requested", "user", user.id, user.username)
    return row[0]["id"]


async def pending_for(user_id: int) -> dict | None:
    return await ErasureRequest.select().where(
        (ErasureRequest.person == user_id) & (ErasureRequest.status == ErasureStatus.pending)).first()


def years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


async def hold_until(user_id: int) -> date | None:
    """The last day the person's training evidence must be kept (the latest of their sessions' end plus
    the evidence period, or the FSE period for a session co-financed by the FSE); None without any."""
    p = await periods()
    rows = await Enrolment.select(Enrolment.session.end_date.as_alias("end_date"),
                                  Enrolment.session.fse_cofinanced.as_alias("fse")).where(Enrolment.user == user_id)
    # The signed attendance sheets (supporting evidence) name them too, and are kept the longest.
    plain = max(p["retention_evidence_years"], p["retention_supporting_years"])
    fse = max(plain, p["retention_fse_years"])
    ends = [years_after(r["end_date"], fse if r["fse"] else plain) for r in rows if r["end_date"]]
    return max(ends) if ends else None


async def _outcome(person: int | None) -> ErasureStatus:
    """Deleted when nothing refers to the account but itself: no record of training, no role beyond a
    learner's (a manager's account is referred to by what they did: it is pseudonymised instead)."""
    if not person:
        return ErasureStatus.erased
    if await has_training_records(person) or await RoleAssignment.exists().where(
            (RoleAssignment.user == person) & RoleAssignment.role.not_in(["learner"])):
        return ErasureStatus.pseudonymised
    return ErasureStatus.erased


async def assess(request_id: int) -> dict:
    """The request and what handling it would do: ``outcome`` erased or pseudonymised, ``hold_until``."""
    row = await ErasureRequest.select().where(ErasureRequest.id == request_id).first()
    if row is None:
        raise NotFound(NOT_FOUND)
    person = row["person"]
    row["due"] = (row["requested_at"] + DELAY).date()
    row["outcome"] = await _outcome(person)
    row["hold_until"] = await hold_until(person) if row["outcome"] == ErasureStatus.pseudonymised else None
    row["sessions"] = await Enrolment.count().where(Enrolment.user == person) if person else 0
    row["default_answer"] = await default_answer(row)
    return row


async def default_answer(row: dict) -> str:
    when = date_fr(now())
    if row["outcome"] == ErasureStatus.pseudonymised:
        kept = f" jusqu'au {date_fr(row['hold_until'])}" if row["hold_until"] else ""
        body = (f"Votre demande de suppression de votre compte Tremplin a été traitée le {when}.\n\n"
                "Votre compte est désactivé et vos données personnelles (nom, prénom, adresse de courriel, matricule, "
                "identifiant) ont été remplacées par un pseudonyme.\n\n"
                "Les preuves de vos formations (attestations, émargements et signatures, heures suivies) doivent "
                f"légalement être conservées{kept} : elles le restent, sans servir à rien d'autre, puis seront "
                "supprimées.")
    else:
        body = (f"Votre demande de suppression de votre compte Tremplin a été traitée le {when} : votre compte "
                "et les données qui s'y rattachent ont été supprimés.")
    return f"Bonjour,\n\n{body}\n\n{await operator_name()}"


async def _last_administrator(person: int) -> bool:
    admins = RoleAssignment.select(RoleAssignment.user).where(
        (RoleAssignment.role == "admin") & RoleAssignment.user.deactivated_at.is_null())
    holders = {r["user"] for r in await admins}
    return holders == {person}


async def _forget(person: int | None, email: str) -> None:
    """What else names the person: their registration requests (identity, contact, health details
    emptied; the request's reference, session and dates stay, the origin of their training) and the
    mails sent to them (bodies emptied, address removed; a mail still to send is left to go)."""
    mine = RegistrationRequest.user == person if person else None
    if email:
        by_email = RegistrationRequest.email == email
        mine = by_email if mine is None else (mine | by_email)
    if mine is not None:
        await RegistrationRequest.update({
            RegistrationRequest.civility: "", RegistrationRequest.first_name: "", RegistrationRequest.last_name: "",
            RegistrationRequest.email: "", RegistrationRequest.postal_code: "", RegistrationRequest.phone: "",
            RegistrationRequest.expectations: "", RegistrationRequest.dietary_details: "",
            RegistrationRequest.disability: False, RegistrationRequest.draft_key: "",
            RegistrationRequest.confirmation_nonce: ""}).where(mine)
    if email:
        await Mail.update({Mail.recipients: "", Mail.intended_recipients: "", Mail.body_text: BODY_ERASED,
                           Mail.body_html: "", Mail.secret: ""}).where(
            ((Mail.intended_recipients == email) | (Mail.recipients == email))
            & Mail.status.is_in(["sent", "failed", "cancelled"]))


async def handle(admin: CurrentUser, request_id: int, decision: str, answer: str) -> str:
    """Apply (``decision`` "apply": the outcome ``assess`` gives) or refuse the request, mail the answer.
    Returns the status it ends in."""
    answer = fold_controls((answer or "").strip(), multiline=True)
    if decision not in ("apply", "refuse"):
        raise ValidationFailed({"decision": "Choisissez d'appliquer ou de refuser la demande."})
    if not answer:
        raise ValidationFailed({"answer": "Écrivez la réponse envoyée à la personne"
                                          + (" : le motif du refus." if decision == "refuse" else ".")})
    if len(answer) > ANSWER_MAX:
        raise ValidationFailed({"answer": f"La réponse ne peut pas dépasser {ANSWER_MAX} caractères."})
    async with db.write_transaction():
        locked = ErasureRequest.select().where(ErasureRequest.id == request_id)
        request = await (locked if db.is_sqlite() else locked.lock_rows()).first()
        if request is None:
            raise NotFound(NOT_FOUND)
        if request["status"] != ErasureStatus.pending:
            raise ValidationFailed({"decision": ALREADY})
        person = request["person"]
        if person == admin.id:
            raise ValidationFailed({"decision": "Un autre administrateur doit traiter votre propre demande."})
        status = ErasureStatus.refused if decision == "refuse" else await _outcome(person)
        if status != ErasureStatus.refused and person and await _last_administrator(person):
            raise ValidationFailed({"decision": "Cette personne est le seul administrateur : nommez-en un autre avant "
                                                "d'appliquer sa demande."})
        values = {ErasureRequest.status: status, ErasureRequest.answer: answer, ErasureRequest.handled_at: now(),
                  ErasureRequest.handled_by: admin.id}
        if status != ErasureStatus.refused:
            await _forget(person, request["email"])
            if status == ErasureStatus.pseudonymised:
                await pseudonymise_where(now(), "id = {} AND pseudonymised_at IS NULL", [person], "demande d'effacement")
            elif person:
                label = f"compte n° {person}"
                await relabel_audit("(SELECT id, CAST({} AS VARCHAR) AS label FROM app_user WHERE id = {})", label, person)
                await remove_account(person, label, {"reason": "demande d'effacement"})
            # The request is kept as the proof it was answered, without the identity it erased.
            values.update({ErasureRequest.person_label: f"Compte n° {person}" if person else "Compte déjà supprimé",
                           ErasureRequest.email: ""})
        if request["email"] and not is_fictitious(request["email"]):
            await outbox.queue_mail([request["email"]], "Votre demande de suppression de compte", answer,
                                    category="erasure")
        await ErasureRequest.update(values).where(ErasureRequest.id == request_id)
        await audit.record("erasure.handled", "erasure_request", request_id, f"demande n° {request_id}",
                           {"outcome": status.value})
    return status
