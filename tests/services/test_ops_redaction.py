"""What an operator reads of a job (SPEC G2): the secrets are gone, the rest is readable."""

import json
import secrets

import pytest
from itsdangerous import URLSafeTimedSerializer

from app.services.ops import MASK, redact


def signed_link() -> tuple[str, str]:
    token = URLSafeTimedSerializer("a-secret-key").dumps({"request": 42, "nonce": secrets.token_urlsafe(16)})
    return f"https://formation.example.org/inscription/confirmer/{token}", token


@pytest.mark.smoke
def test_arguments_lose_their_secrets_by_key_and_by_look():
    link, token = signed_link()
    raw = secrets.token_urlsafe(16)
    shown = redact(json.dumps([42, "alp001", {"password": "Zx9-Secret!", "mot_de_passe": "Autre-1", "body_text": "Bonjour",
                                              "link": link, "session": 7, "user_id": 12}, raw, secrets.token_hex(16)]))
    for secret in ("Zx9-Secret!", "Autre-1", "Bonjour", token, raw):
        assert secret not in shown
    data = json.loads(shown)
    assert data[0] == 42 and data[1] == "alp001" and data[2]["session"] == 7 and data[2]["user_id"] == 12
    assert data[2]["password"] == MASK and data[3] == MASK and data[4] == MASK


@pytest.mark.smoke
def test_a_traceback_keeps_its_shape_and_loses_its_secrets():
    link, token = signed_link()
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "/srv/tremplin/app/jobs/registration.py", line 41, in send_request_notifications\n'
        "    await deliver(message, password='Zx9-Secret!', api_key=sk_live_51HqT9x)\n"
        f"aiosmtplib.errors.SMTPRecipientsRefused: {{'a@example.org': (550, 'refused')}} link={link}\n"
        f'ValueError: {{"token": "abc", "Authorization": "Bearer eyJhbGciOi.J9.x"}} {link}?next=/x&sig=77'
    )
    shown = redact(traceback)
    for secret in ("Zx9-Secret!", "sk_live_51HqT9x", token, '"abc"', "eyJhbGciOi", "sig=77"):
        assert secret not in shown, secret
    assert 'File "/srv/tremplin/app/jobs/registration.py", line 41, in send_request_notifications' in shown
    assert "SMTPRecipientsRefused" in shown and "a@example.org" in shown and "550" in shown
    assert "https://formation.example.org/inscription/confirmer/" in shown


@pytest.mark.smoke
def test_nothing_secret_nothing_masked():
    text = "ConnectionError: Error 111 connecting to 127.0.0.1:6379. Connection refused. (import 42, cohorte « 2026 A »)"
    assert redact(text) == text
    assert redact(None) == "" and redact("[]") == "[]"


@pytest.mark.smoke
def test_every_signed_link_and_token_is_masked_whatever_its_letters():
    """A token with no digit (one in forty of token_urlsafe(16)), a signed link of a small payload."""
    serializer = URLSafeTimedSerializer("a-secret-key")
    for i in range(300):
        signed = serializer.dumps(i if i % 2 else {"request": i})
        assert signed.split(".")[-1] not in redact(f"RuntimeError: lien https://x.org/inscription/suivi/{signed} perdu")
        token = secrets.token_urlsafe(16)
        assert token not in redact(json.dumps([i, token]))
