"""Security headers on every answer, and the cap on form size.

- Content-Security-Policy: scripts and styles from our own origin only (htmx is a static file; no
  inline script, no inline style — htmx's indicator style is off in base.html), no framing — except the
  published indicators' snippet, which sets its own policy (framed by any site, its one style by hash).
- HSTS in production (behind TLS); nosniff; a same-origin referrer.
- HTML pages are ``private``: no shared cache keeps a personal page.

The headers are added by a ``before_send`` hook, which sees every answer: also those made outside
any route (an unknown path, a CSRF refusal, a refused form), which a route middleware never sees.

Forms: the body is capped (``request_max_body_size``), multipart forms by their number of parts
(``multipart_form_part_limit``); a url-encoded form, which Litestar parses whole with no cap on its
fields, by ``FormFieldLimitMiddleware``.
"""

from __future__ import annotations

from functools import lru_cache

from litestar.exceptions import HTTPException

from app.settings import get_settings

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# A url-encoded form may hold this many fields at most; the largest of ours is a two-list selector
# (500 choices at most, app/services/enrolments.py LIST_LIMIT).
FORM_MAX_FIELDS = 1000
TOO_LARGE = "Le fichier ou le formulaire envoyé est trop volumineux : rien n'a été enregistré."


@lru_cache(maxsize=2)
def _headers(production: bool) -> tuple[tuple[bytes, bytes], ...]:
    headers = [
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    ]
    if production:
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return tuple(headers)


def security_headers() -> tuple[tuple[bytes, bytes], ...]:
    return _headers(get_settings().is_production)


async def add_security_headers(message, scope) -> None:
    """``before_send`` hook: the headers on every HTTP answer (those a handler set itself win)."""
    if message["type"] != "http.response.start":
        return
    headers = list(message.get("headers") or [])
    names = {bytes(k).lower() for k, _ in headers}
    own_policy = b"content-security-policy" in names
    # A page that states its own policy says who may frame it (frame-ancestors, which supersedes
    # X-Frame-Options): only the published indicators' embeddable snippet does
    # (app/controllers/indicators.py); every other answer keeps « DENY ».
    headers += [h for h in security_headers() if h[0] not in names and not (own_policy and h[0] == b"x-frame-options")]
    content_type = next((bytes(v) for k, v in headers if bytes(k).lower() == b"content-type"), b"")
    if b"cache-control" not in names and content_type.startswith(b"text/html"):
        headers.append((b"cache-control", b"no-cache, private"))
    message["headers"] = headers


class FormTooLarge(HTTPException):
    status_code = 413
    detail = TOO_LARGE


class FormFieldLimitMiddleware:
    """Refuses a url-encoded body of more than FORM_MAX_FIELDS fields. The fields are counted on the
    bytes as they arrive (their ``&`` separators), before anything parses them: a forged
    million-field post is refused after its first chunk, whichever route it aims at."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not _is_urlencoded(scope):
            await self.app(scope, receive, send)
            return
        separators = 0

        async def counting_receive():
            nonlocal separators
            message = await receive()
            if message["type"] == "http.request":
                separators += message.get("body", b"").count(b"&")
                if separators >= FORM_MAX_FIELDS:
                    raise FormTooLarge()
            return message

        await self.app(scope, counting_receive, send)


def _is_urlencoded(scope) -> bool:
    for name, value in scope.get("headers") or ():
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == b"application/x-www-form-urlencoded"
    return False
