"""The requester follows or cancels their request through a signed link mailed to them."""

from __future__ import annotations

from app import db
from app.services import outbox
from app.services.accounts import normalise_email
from app.services.errors import DomainError
from app.services.registration.common import OPEN_STATUSES, greeting, may_mail, request_details, request_key
from app.services.registration.links import read_link, signer
from app.services.registration.workflow import closing_mails, move_status
from app.settings import get_settings
from app.tables.registration import RegistrationRequest


# -- follow or cancel a request (requester side) --------------------------------------------------
async def send_follow_link(email: str, reference: str, redis) -> int | None:
    request = await RegistrationRequest.select().where(
        (RegistrationRequest.email == normalise_email(email))
        & (RegistrationRequest.reference == (reference or "").strip().upper())
        & (RegistrationRequest.status != "draft")).first()
    if request is None or not await may_mail(redis, request["email"]):
        return None
    token = signer("follow").dumps({"id": request["id"]})
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
        if await move_status(r, None, "Annulée par le demandeur", OPEN_STATUSES, "cancelled"):
            mail_ids = await closing_mails(r, "annulée", "", by_requester=True)
    await outbox.dispatch(redis, mail_ids)
    return await request_details(r["id"])
