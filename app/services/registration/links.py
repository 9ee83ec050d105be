"""The signed links of online registration (confirmation, follow, resume): itsdangerous, with
an expiry; the confirmation link is single use (a nonce cleared when it is used, submission.py)."""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.services import seats
from app.services.errors import DomainError
from app.settings import get_settings


CONFIRM_MAX_AGE = int(seats.CONFIRMATION_VALID.total_seconds())


def signer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().security.secret_key, salt=salt)


class LinkProblem(DomainError):
    status_code = 400

    def __init__(self, message: str, request_id: int | None = None):
        super().__init__(message)
        self.request_id = request_id


def read_link(salt: str, token: str, expired: str, invalid: str) -> dict:
    """The payload of a signed link of ours, or LinkProblem with the French reason."""
    try:
        payload = signer(salt).loads(token, max_age=CONFIRM_MAX_AGE)
    except SignatureExpired as exc:
        raise LinkProblem(expired) from exc
    except BadSignature as exc:
        raise LinkProblem(invalid) from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("id"), int):
        raise LinkProblem(invalid)
    return payload
