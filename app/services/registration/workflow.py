"""The back-office workflow of a request (F3, steps 6 to 10), every transition recorded; a
refusal or a cancellation. Seats are checked again, in a locked transaction, at steps 6, 8 and 10
(app/services/seats.py)."""

from __future__ import annotations

import asyncio

from piccolo.query.functions.aggregate import Count

from app import db
from app.services import convocations, outbox, seats
from app.services.accounts import NewAccount, external_username, free_username, insert_account
from app.services.enrolments import add_sources
from app.services.errors import DomainError, NotFound, ValidationFailed
from app.services.passwords import generate_password, hash_password
from app.services.registration.bulletin import bulletin_problem, bulletin_state
from app.services.registration.common import (
    BI_CATEGORY, OPEN_STATUSES, greeting, operator_addresses, operator_name, record_event, request_details, request_key,
)
from app.services.roles import CurrentUser
from app.services.uniqueness import INTEGRITY_ERRORS, message_for
from app.settings import get_settings
from app.tables.accounts import User
from app.tables.learning import SourceKind
from app.tables.registration import RegistrationRequest


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
        account = await existing_account(r)
        details = ([f"{who} a déjà un compte ({account['username']}) : il lui sera rappelé par courriel à {r['email']}."]
                   if account else
                   [f"Un compte de stagiaire externe sera créé pour {who}, rattaché à « {r['organisation_name']} » "
                    "(et non à l'établissement de la session).",
                    f"Ses identifiants (nom d'utilisateur et mot de passe) lui seront envoyés par courriel à {r['email']}."])
    else:
        details = [f"{who} sera inscrit(e) à la session {r['session_code']} et en sera informé(e) par courriel.",
                   "La demande sera close (inscription définitive)."]
    return r, f"« {label} » pour la demande {r['reference']} ?", details


async def existing_account(r: dict) -> dict | None:
    # Never a deactivated account (nobody logs in with it; its address is free for a new one).
    active = User.deactivated_at.is_null()
    if r["user"]:
        user = await User.select(User.id, User.username).where((User.id == r["user"]) & active).first()
        if user is not None:
            return user
    return await User.select(User.id, User.username).where((User.email == r["email"]) & active).order_by(User.id).first()


async def move_status(request: dict, actor: CurrentUser | None, action: str, before: str | list[str], after: str,
                      note: str = "") -> bool:
    """The status change, claimed on the status it had (a double click or a race changes nothing)."""
    befores = before if isinstance(before, list) else [before]
    claimed = await RegistrationRequest.update({RegistrationRequest.status: after}).where(
        (RegistrationRequest.id == request["id"]) & RegistrationRequest.status.is_in(befores)).returning(RegistrationRequest.id)
    if not claimed:
        return False
    await record_event(request["id"], actor.id if actor else None, action, request["status"], after, note)
    return True


async def _check_seat(r: dict, label: str, limit: int | None) -> None:
    """Inside ``seats.guarded`` (``limit``: the seats it read): the request still has a seat, first
    come, first served."""
    if not limit:
        return
    free = await seats.free_seats(r["session"], limit, ahead_of=r)
    if free <= 0:
        raise seats.SessionFull(f"« {label} » est impossible : {seats.full_message(limit, free)}")


async def closing_mails(r: dict, word: str, reason: str, by_requester: bool) -> list[int]:
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
            if not await move_status(r, actor, "Refus" if action == "refuse" else "Annulation", OPEN_STATUSES, after,
                                     reason.strip()):
                raise DomainError("Cette demande vient d'être close.")
            mail_ids += await closing_mails(r, word, reason.strip(), by_requester=False)
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
            if not await move_status(r, actor, label, before, after, note):
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
        await convocations.dispatch_pending(redis, [r["session"]])  # the convocation add_sources wrote
    return await request_details(request_id)


async def _account_and_credentials(r: dict, actor: CurrentUser) -> int:
    """Reuse the person's account (logged in when requesting, or same e-mail) or create one: never a
    second account for the same person. A new account is an external trainee's (README « Accounts »):
    attached to the request's organisation, not to the session's establishment, named by the
    external rule ``ext.<initiale>.<nom>``; a GET sees them only as participants of their sessions."""
    # Two validations of one person at once (two requests): the second waits for the first's
    # account, then reuses it (the unique index on the address is the guarantee behind this).
    await db.lock_name(f"account-email:{r['email']}")
    user = await existing_account(r)
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
    account = NewAccount(username=username, password_hash=password_hash, first_name=r["first_name"],
                         last_name=r["last_name"], email=r["email"], establishment=None, status="elected",
                         force_password_change=True, organisation=r["organisation"], external=True)
    try:
        user_id = await insert_account(account, granted_by=actor.id)
    except INTEGRITY_ERRORS as exc:  # an account made meanwhile by another path (a manager, an import)
        field, message = message_for(exc)
        raise DomainError(message + (" Recommencez : la demande sera rattachée à ce compte." if field == "email"
                                     else " Recommencez.")) from exc
    await RegistrationRequest.update({RegistrationRequest.user: user_id}).where(RegistrationRequest.id == r["id"])
    r["user"] = user_id
    body = (f"Bonjour {r['first_name']},\n\nVotre inscription a été validée par {operator}. Voici vos identifiants :\n\n"
            f"Adresse de la plateforme : {url}\nNom d'utilisateur : {username}\nMot de passe : {outbox.SECRET_MARK}\n\n"
            "Vous devrez choisir un nouveau mot de passe à votre première connexion.\n")
    return await outbox.queue_mail([r["email"]], "Vos identifiants pour votre inscription", body, category="registration",
                                   group_key=request_key(r["id"]), secret=password)
