"""The submission of a draft and the confirmation of its address. Seats: see
app/services/seats.py (one count, checked in a locked transaction at submission and confirmation).

Notifications after the confirmation are sent once (notifications.py). The job is a durable run
recorded with the confirmation: if Redis refused it (or it was lost), the job sweep
(app/jobs/durable.py) enqueues it again."""

from __future__ import annotations

import secrets

from app import db
from app.dates import now
from app.services import outbox, seats
from app.services.accounts import normalise_email
from app.services.errors import ValidationFailed
from app.services.registration.common import RECIPIENT_CAPPED, STEPS, greeting, may_mail, record_event, request_key
from app.services.registration.links import LinkProblem, read_link, signer
from app.services.roles import CurrentUser
from app.settings import get_settings
from app.tables.registration import RegistrationRequest
from app.jobs import kinds as jobs


# A request read whole, after its submission and at its confirmation: its SQL built once.
_request = db.reused(lambda request_id: RegistrationRequest.select().where(RegistrationRequest.id == request_id).first())


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
    if not await may_mail(redis, draft["email"]):
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
        await record_event(draft["id"], None, "Demande envoyée", "draft", "awaiting_confirmation",
                           "Session complète : liste d'attente." if values[RegistrationRequest.waiting_list] else "")
        mail_id = await _confirmation_mail(draft, nonce)
    await outbox.dispatch(redis, [mail_id])
    return await _request(draft["id"])


async def _confirmation_mail(request: dict, nonce: str) -> int:
    token = signer("confirm").dumps({"id": request["id"], "nonce": nonce})
    link = f"{get_settings().base_url}/inscription/confirmer/{token}"
    # The address is not confirmed yet: nothing the visitor typed goes in (greeting).
    body = (f"{greeting(request)}\n\nNous avons bien reçu votre demande d'inscription "
            f"(référence {request['reference']}).\n\nPour la transmettre, confirmez votre adresse de courriel en "
            f"suivant ce lien (valable 7 jours, une seule fois) :\n{outbox.SECRET_MARK}\n\n"
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n")
    # The link is the mail's secret: the back office never shows it (it would confirm the address).
    return await outbox.queue_mail([request["email"]], "Confirmez votre adresse pour votre demande d'inscription", body,
                                   category="registration-confirm", group_key=request_key(request["id"]), secret=link)


async def confirm(token: str, redis) -> dict:
    """Follow the confirmation link: the request is confirmed once — on the waiting list if the
    seats are all held by people ahead of it — and its notifications are queued. If the queue
    refuses the job, the request stays confirmed and the job sweep sends them (its run is durable)."""
    payload = read_link("confirm", token, "Ce lien de confirmation a expiré (il est valable 7 jours).",
                        "Ce lien de confirmation n'est pas valide.")
    request = await _request(payload.get("id"))
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
        await record_event(request["id"], None, "Adresse confirmée", request["status"], target,
                           "Session complète : liste d'attente." if target == "waiting_list" else "")
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
    if request is None or not await may_mail(redis, request["email"]):
        return False
    nonce = secrets.token_urlsafe(16)
    async with db.transaction():
        await RegistrationRequest.update({RegistrationRequest.confirmation_nonce: nonce}).where(
            RegistrationRequest.id == request["id"])
        mail_id = await _confirmation_mail(request, nonce)
    await outbox.dispatch(redis, [mail_id])
    return True
