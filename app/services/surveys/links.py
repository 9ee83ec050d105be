"""The signed links of the surveys' mails: a learner's (one invitation) and a financer's (one
organisation's invitation), answered without logging in. itsdangerous, timed on the app's clock
(app/dates.py ``now``), so an expiry is tested without waiting."""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from app.dates import now
from app.services.errors import DomainError
from app.settings import get_settings

LEARNER_SALT = "survey-invitation"
FINANCER_SALT = "financer-survey-invitation"
MAX_AGE = 120 * 86400  # opening, two reminders, and time to answer the last one
EXPIRED = ("Ce lien a expiré : le questionnaire n'est plus ouvert par ce lien. Si vous avez un compte, vous pouvez "
           "encore y répondre depuis la page de votre session.")
FINANCER_EXPIRED = "Ce lien a expiré : l'enquête n'est plus ouverte par ce lien. Contactez l'organisme de formation."
INVALID = ("Ce lien n'est pas valide : il a peut-être été mal copié. Utilisez le lien complet reçu par courriel, "
           "ou répondez depuis la page de votre session.")
FINANCER_INVALID = "Ce lien n'est pas valide : il a peut-être été mal copié. Utilisez le lien complet reçu par courriel."


class _ClockSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(now().timestamp())


class SurveyLinkProblem(DomainError):
    status_code = 400


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().security.secret_key, salt=salt, signer=_ClockSigner)


def make_token(salt: str, invitation_id: int) -> str:
    return _serializer(salt).dumps({"id": invitation_id})


def read_token(salt: str, token: str) -> int:
    """The invitation id a link names, or SurveyLinkProblem with the French reason."""
    financer = salt == FINANCER_SALT
    if len(token) > 200:
        raise SurveyLinkProblem(FINANCER_INVALID if financer else INVALID)
    try:
        payload = _serializer(salt).loads(token, max_age=MAX_AGE)
    except SignatureExpired as exc:
        raise SurveyLinkProblem(FINANCER_EXPIRED if financer else EXPIRED) from exc
    except BadSignature as exc:
        raise SurveyLinkProblem(FINANCER_INVALID if financer else INVALID) from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("id"), int) or isinstance(payload["id"], bool):
        raise SurveyLinkProblem(FINANCER_INVALID if financer else INVALID)
    return payload["id"]


def learner_link(invitation_id: int) -> str:
    return f"{get_settings().base_url}/questionnaire/{make_token(LEARNER_SALT, invitation_id)}"


def financer_link(invitation_id: int) -> str:
    return f"{get_settings().base_url}/enquete-financeurs/{make_token(FINANCER_SALT, invitation_id)}"
