"""When a slot can be signed, and the short-lived proofs of the signing flow (issue 22).

- The window: from ``OPENS_BEFORE`` (30 min) before the slot's start until its end plus the session's
  ``signing_grace`` minutes, on the platform's wall clock (Europe/Paris, ``app.dates.local_now``: the
  tests' ``clock`` fixture moves it).
- The QR token: an HMAC (the app's secret key) over the slot id and a 30-second window number,
  ``<window>.<mac>``; accepted for the current window and the previous one only, so a photo of the
  code sent to a friend a minute later is refused.
- The pass: what a valid scan hands to the signing page (``/signer/{slot}?p=…``), bound to the slot and
  valid 10 minutes, so a learner who must log in first comes back to the same slot and is still
  recorded « qr ». itsdangerous (registration/links.py) reads the system clock, not ``app.dates``:
  the pass is the same HMAC as the token, with an expiry on the app's one clock. It is also bound to
  the device that scanned (``<expires>.<mac of the slot>.<mac of the slot and the client hash>``): a
  pass forwarded to someone else's phone is refused (PASS_OTHER_DEVICE), nothing recorded.
- The client hash: a keyed SHA-256 of the user agent and the address (evidence of "which device"
  without keeping either), the same for the pass and the record.
- Tokens and passes come from URLs: anything not ASCII is invalid (never compared as text).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.dates import now
from app.settings import get_settings

OPENS_BEFORE = timedelta(minutes=30)
QR_PERIOD = 30  # seconds: the code shown changes this often
PASS_SECONDS = 600
BEFORE, OPEN, OVER = "before", "open", "over"

QR_EXPIRED = "Ce code QR a expiré : scannez le code affiché maintenant."
QR_INVALID = "Ce code QR n'est pas valide pour ce créneau : scannez le code affiché par le formateur."
PASS_OTHER_DEVICE = ("Ce lien de signature a été ouvert sur un autre appareil que celui qui a scanné le code : "
                     "scannez vous-même le code affiché dans la salle. Rien n'a été enregistré.")
PASS_INVALID = ("Ce lien de signature n'est pas celui de ce créneau ou a expiré : scannez à nouveau le code "
                "affiché par le formateur, ou signez depuis votre page d'accueil.")


def starts_at(slot: dict) -> datetime:
    """The slot's start ({"day", "starts"}), aware, on the platform's wall clock."""
    return datetime.combine(slot["day"], slot["starts"], tzinfo=ZoneInfo(get_settings().timezone))


def bounds(slot: dict, grace_minutes: int) -> tuple[datetime, datetime]:
    """(opens, closes) of a slot ({"day", "starts", "ends"}), aware, on the platform's wall clock."""
    starts = starts_at(slot)
    ends = datetime.combine(slot["day"], slot["ends"], tzinfo=starts.tzinfo)
    return starts - OPENS_BEFORE, ends + timedelta(minutes=max(0, int(grace_minutes or 0)))


def state(slot: dict, grace_minutes: int, at: datetime | None = None) -> str:
    """BEFORE the window, OPEN during it (both edges included), OVER after it."""
    opens, closes = bounds(slot, grace_minutes)
    at = at or now()
    if at < opens:
        return BEFORE
    return OPEN if at <= closes else OVER


def _mac(*parts) -> str:
    key = get_settings().security.secret_key.encode()
    digest = hmac.new(key, ":".join(str(p) for p in parts).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode().rstrip("=")


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison of a MAC read from a URL (any text) with the expected one."""
    return given.isascii() and hmac.compare_digest(given.encode(), expected.encode())


def _period(at: datetime | None = None) -> int:
    return int((at or now()).timestamp()) // QR_PERIOD


def qr_token(slot_id: int, at: datetime | None = None) -> str:
    period = _period(at)
    return f"{period}.{_mac('qr', slot_id, period)}"


def token_problem(slot_id: int, token: str) -> str | None:
    """None for a token of this slot of the current or previous 30 s, else the French reason."""
    period_text, _, mac = (token or "").partition(".")
    if not period_text.isascii() or not period_text.isdigit() or len(period_text) > 12:
        return QR_INVALID
    period = int(period_text)
    if not _same(mac, _mac("qr", slot_id, period)):
        return QR_INVALID
    current = _period()
    if period > current:
        return QR_INVALID
    return QR_EXPIRED if period < current - 1 else None


def make_pass(slot_id: int, client: str) -> str:
    """The pass of a scan of ``slot_id`` by the device whose ``client_hash`` is ``client``."""
    expires = int(now().timestamp()) + PASS_SECONDS
    return f"{expires}.{_mac('pass', slot_id, expires)}.{_mac('device', slot_id, expires, client)}"


def pass_problem(slot_id: int, token: str | None, client: str) -> str | None:
    """None for a pass of this slot, still valid, presented by the device that scanned; else the
    French reason (PASS_OTHER_DEVICE when only the device differs)."""
    expires_text, _, macs = (token or "").partition(".")
    mac, _, device = macs.partition(".")
    if not expires_text.isascii() or not expires_text.isdigit() or len(expires_text) > 12:
        return PASS_INVALID
    expires = int(expires_text)
    if not _same(mac, _mac("pass", slot_id, expires)) or expires < now().timestamp():
        return PASS_INVALID
    return None if _same(device, _mac("device", slot_id, expires, client)) else PASS_OTHER_DEVICE


def client_hash(user_agent: str, address: str) -> str:
    key = get_settings().security.secret_key.encode()
    return hmac.new(key, f"{user_agent or ''}\n{address or ''}".encode(), hashlib.sha256).hexdigest()
