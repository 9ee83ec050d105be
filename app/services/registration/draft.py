"""The public wizard's draft. It lives in the database, keyed by a random value kept in the
visitor's cookie: it survives a reload and a browser restart; a mailed link lets the requester
finish it on another device."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from app import db
from app.dates import now
from app.services import outbox
from app.services.accounts import normalise_email
from app.services.registration.common import request_key
from app.services.registration.links import LinkProblem, read_link, signer
from app.services.roles import CurrentUser
from app.settings import get_settings
from app.tables.registration import RegistrationRequest


# -- the draft ----------------------------------------------------------------------------------
async def cancel_draft(draft: dict) -> None:
    await RegistrationRequest.delete().where(
        (RegistrationRequest.id == draft["id"]) & (RegistrationRequest.status == "draft"))


# Read on every page and form of the wizard: its SQL built once (db.reused).
_draft_by_key = db.reused(lambda key: RegistrationRequest.select(
    RegistrationRequest.all_columns(), RegistrationRequest.session.code.as_alias("session_code"),
).where((RegistrationRequest.draft_key == key) & (RegistrationRequest.status == "draft")).first())


async def draft_for(key: str | None) -> dict | None:
    if not key:
        return None
    return await _draft_by_key(key)


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


# -- resume a draft on another device (issue 20) ---------------------------------------------------
# Once the e-mail step is done, the requester may have a link mailed to finish the draft elsewhere
# (started on a phone, finished on a PC). The link is signed and expires like the follow link; it
# names the draft and a digest of its cookie key, so it works once: taking the draft over gives it a
# new key (the new browser's cookie), which ends the old browser's hold and the link with it. The
# address is not confirmed yet: the mail carries nothing the visitor typed, only the link.
RESUME_SALT = "resume"


def _key_digest(key: str) -> str:
    return hashlib.sha256(f"resume:{key}".encode()).hexdigest()[:32]


async def send_resume_link(draft: dict) -> int:
    """The mail with the link to take this draft over elsewhere (the caller dispatches it)."""
    token = signer(RESUME_SALT).dumps({"id": draft["id"], "k": _key_digest(draft["draft_key"])})
    link = f"{get_settings().base_url}/inscription/reprendre/{token}"
    body = ("Bonjour,\n\nPour reprendre votre demande d'inscription en cours sur un autre appareil, suivez ce lien "
            f"(valable 7 jours, une seule fois) :\n{outbox.SECRET_MARK}\n\n"
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n")
    async with db.transaction():
        return await outbox.queue_mail([draft["email"]], "Reprendre votre demande d'inscription", body,
                                       category="registration-resume", group_key=request_key(draft["id"]), secret=link)


async def resumable_draft(token: str) -> dict:
    """The draft a resume link names, or LinkProblem with the French reason."""
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
