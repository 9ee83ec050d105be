"""What every part of online registration shares: the statuses, the requester's greeting, the
operator's name and addresses, the per-recipient cap on the mails a visitor causes, a request's
details and the record of its transitions."""

from __future__ import annotations

from app.services import outbox
from app.services.accounts import normalise_email
from app.services.errors import DomainError, NotFound
from app.services.ratelimit import Limit
from app.services.roles import REGISTRATION_MANAGER
from app.tables.accounts import RoleAssignment
from app.tables.registration import RegistrationRequest, RequestEvent


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


async def may_mail(redis, email: str) -> bool:
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


def request_key(request_id: int) -> str:
    """The group key of every mail about one request (shown on its back-office page)."""
    return f"request:{request_id}"


async def record_event(request_id: int, actor: int | None, action: str, before: str, after: str, note: str = "") -> None:
    await RequestEvent.insert(RequestEvent(request=request_id, actor=actor, action=action, from_status=before,
                                           to_status=after, note=note))


# -- a request's details -----------------------------------------------------------------------
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


async def operator_addresses() -> list[str]:
    rows = await RoleAssignment.select(RoleAssignment.user.email.as_alias("email")).where(
        RoleAssignment.role == REGISTRATION_MANAGER)
    addresses = {r["email"] for r in rows if r["email"]}
    copy = await outbox.get_setting("operator_copy_email")
    if copy:
        addresses.add(copy)
    return sorted(addresses)
