"""The HTTP plumbing shared by every controller: current user, access guard, error pages."""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Any
from urllib.parse import quote, urlparse

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect
from litestar.routes import base as _litestar_routes
from litestar.status_codes import HTTP_303_SEE_OTHER
from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError

from app.http.responder import client_redirect, error_page, is_htmx
from app.http.security import TOO_LARGE
from app.http.user import current_user  # noqa: F401 - controllers import it from here
from app.numbers import path_int
from app.services import audit
from app.services.auth import load_current_user
from app.services.errors import DomainError, NotFound
from app.services.roles import ROLE_LABELS
from app.services.uniqueness import INTEGRITY_ERRORS, message_for

log = logging.getLogger(__name__)

# Every ``{name:int}`` path parameter goes through the one parser of untrusted integers: Litestar
# reads its parsers from this map when the routes are built (after this module is imported), and
# answers the parser's ValueError with its 404.
_litestar_routes.parsers_map[int] = path_int

# The database refusing a value (asyncpg: an int beyond int32/int64, class 22 "data exception";
# sqlite3 and Python: an int too large to convert).
INVALID_VALUE_ERRORS: tuple[type[Exception], ...] = (OverflowError,)
try:
    from asyncpg.exceptions import DataError as _PgDataError

    INVALID_VALUE_ERRORS += (_PgDataError,)
except ImportError:  # pragma: no cover
    pass

NOT_FOUND_TEXT = "La page ou l'élément demandé n'existe pas."
RATE_LIMITED_TEXT = "Trop de demandes, réessayez dans quelques minutes."


class PasswordChangeRequired(HTTPException):
    status_code = 403


class CurrentUserMiddleware:
    """Puts the logged-in user (or None) in scope["user"], loaded fresh on every request so a
    suspension, a role change or a new password (the session's "cv") takes effect at once."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            scope["user"] = None
            session = scope.get("session")
            uid = session.get("uid") if isinstance(session, dict) else None
            if uid:
                user = await load_current_user(int(uid), int(session.get("cv") or 0))
                if user is None:
                    session.clear()
                scope["user"] = user
            # The audit trail's actor for this request (app/services/audit.py).
            client = scope.get("client")
            token = audit.bind(scope["user"], client[0] if client else "")
            try:
                await self.app(scope, receive, send)
            finally:
                audit.unbind(token)
            return
        await self.app(scope, receive, send)


def access_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Every route is private unless opt public=True; opt roles=(…) restricts it to those roles."""
    if handler.opt.get("public"):
        return
    user = current_user(connection)
    if user is None:
        raise NotAuthorizedException()
    if user.force_password_change and not handler.opt.get("password_change"):
        raise PasswordChangeRequired()
    roles = handler.opt.get("roles")
    if roles and not user.has_role(*roles):
        if handler.opt.get("hidden"):
            # Pages whose very existence is nobody else's business (operations) answer "not found".
            raise NotFound(NOT_FOUND_TEXT)
        labels = ", ".join(ROLE_LABELS[r] for r in roles)
        raise PermissionDeniedException(detail=f"Cette page est réservée aux rôles : {labels}.")


def client_ip(connection: ASGIConnection) -> str:
    """The client's address as the limits count it. An IPv6 address counts by its /64: one home,
    phone or server is given a whole /64, each address of which would otherwise be a new counter."""
    # Behind a load balancer, uvicorn's --proxy-headers puts the real address in request.client.
    host = connection.client.host if connection.client else "unknown"
    if ":" in host:
        try:
            return str(ipaddress.IPv6Network(f"{host}/64", strict=False))
        except ValueError:
            return host
    return host


async def rate_limit(request: Request, limit, key: str | None = None) -> None:
    """Count one more write under ``limit`` (app/services/ratelimit.py ``Limit``) for this client
    (its IP, or ``key``); past the limit, the French 429 page and nothing is done."""
    redis, value = request.app.state.redis, key or client_ip(request)
    if not await limit.allow(redis, value):
        wait = await limit.retry_after(redis, value) or limit.window
        raise TooManyRequestsException(detail=RATE_LIMITED_TEXT, headers={"Retry-After": str(wait)})


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site relative paths: a forged ?next= cannot send the user elsewhere."""
    if not target:
        return default
    parsed = urlparse(target)
    # Browsers read a backslash as "/" and drop tabs and newlines: /\evil.example is //evil.example.
    # A space too (a form folds a tab into one; a path the app built is quoted, it has none).
    if (parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//")
            or re.search(r"[\\\x00-\x20\x7f]", target)):
        return default
    return target


def on_not_authorized(request: Request, exc: Exception) -> Response:
    target = "/connexion?next=" + quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    if is_htmx(request):
        return client_redirect(target)
    return Redirect(path=target, status_code=HTTP_303_SEE_OTHER)


def on_password_change_required(request: Request, exc: Exception) -> Response:
    if is_htmx(request):
        return client_redirect("/mot-de-passe")
    return Redirect(path="/mot-de-passe", status_code=HTTP_303_SEE_OTHER)


def on_forbidden(request: Request, exc: PermissionDeniedException) -> Response:
    detail = getattr(exc, "detail", "") or ""
    if "CSRF" in detail:
        message = (
            "Le formulaire a expiré ou n'a pas été envoyé depuis cette application (jeton de sécurité "
            "invalide). Rechargez la page et recommencez : rien n'a été enregistré."
        )
    elif detail and detail != "Forbidden":
        message = detail
    else:
        message = "Vous n'avez pas les droits nécessaires pour accéder à cette page."
    return error_page(request, 403, "Accès refusé", message)


def on_not_found(request: Request, exc: Exception) -> Response:
    # The object's own words ("Session introuvable.") when a service said it; the same words
    # whether it exists elsewhere or not at all (ScopeError and NotFound carry the same text).
    message = exc.message if isinstance(exc, NotFound) else NOT_FOUND_TEXT
    return error_page(request, 404, "Page introuvable", message)


def on_bad_request(request: Request, exc: Exception) -> Response:
    return error_page(
        request, 400, "Requête invalide", "La requête contient une valeur invalide (identifiant ou paramètre)."
    )


def on_domain_error(request: Request, exc: DomainError) -> Response:
    return error_page(request, exc.status_code, "Opération impossible", exc.message)


def on_integrity_error(request: Request, exc: Exception) -> Response:
    log.info("integrity error on %s %s: %s", request.method, request.url.path, exc)
    return error_page(request, 409, "Opération impossible", message_for(exc)[1])


def on_invalid_value(request: Request, exc: Exception) -> Response:
    """A value the database cannot hold (a forged id beyond the integer range: ?cohort=999…9, a path
    id, a form field): the request is wrong, not the server — the same 400 as a malformed id, and
    no oracle (an out-of-range id exists nowhere)."""
    log.warning("invalid value on %s %s: %s", request.method, request.url.path, exc)
    return on_bad_request(request, exc)


def on_server_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, INTEGRITY_ERRORS):
        return on_integrity_error(request, exc)
    if isinstance(exc, INVALID_VALUE_ERRORS):
        return on_invalid_value(request, exc)
    if isinstance(exc, REDIS_ERRORS):
        return on_redis_unavailable(request, exc)
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_page(
        request,
        500,
        "Erreur interne",
        "Une erreur inattendue s'est produite. Elle a été enregistrée ; réessayez dans un instant.",
    )


# Redis down (refused, closed) or frozen (a call past REDIS_TIMEOUT): sessions, rate limits and job
# progress live there. Nothing was done; the same click works once it answers again.
REDIS_ERRORS: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError)
UNAVAILABLE_TEXT = "Le service est momentanément indisponible, réessayez dans un instant."
UNAVAILABLE_RETRY_AFTER = 10


def on_redis_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("redis unavailable on %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    response = error_page(request, 503, "Service momentanément indisponible", UNAVAILABLE_TEXT)
    response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
    return response


def on_http_exception(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 404:
        return on_not_found(request, exc)
    if exc.status_code == 405:
        return error_page(request, 405, "Méthode non autorisée", "Cette action n'est pas disponible ainsi.")
    # Litestar refuses a multipart form of too many parts with a 400 of these words.
    if exc.status_code == 413 or (exc.status_code == 400 and exc.detail == "Request Entity Too Large"):
        return error_page(request, 413, "Envoi trop volumineux", TOO_LARGE)
    if exc.status_code == 429:
        response = error_page(request, 429, "Trop de demandes", RATE_LIMITED_TEXT)
        response.headers.update({k: v for k, v in (exc.headers or {}).items() if k.lower() == "retry-after"})
        return response
    if exc.status_code >= 500:
        return on_server_error(request, exc)
    # The framework's own words are English (« Invalid multipart/form-data request »): logged, and
    # the person reads what happened in French.
    log.info("refused %s %s: %s %s", request.method, request.url.path, exc.status_code, exc.detail)
    return error_page(request, exc.status_code, "Requête refusée", MALFORMED_TEXT)


MALFORMED_TEXT = ("Le formulaire ou la requête envoyés sont mal formés ou incomplets : rechargez la page et "
                  "recommencez. Rien n'a été enregistré.")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    NotAuthorizedException: on_not_authorized,
    PasswordChangeRequired: on_password_change_required,
    PermissionDeniedException: on_forbidden,
    NotFoundException: on_not_found,
    ValidationException: on_bad_request,
    DomainError: on_domain_error,
    NotFound: on_not_found,
    HTTPException: on_http_exception,
    **{error: on_integrity_error for error in INTEGRITY_ERRORS},
    **{error: on_invalid_value for error in INVALID_VALUE_ERRORS},
    **{error: on_redis_unavailable for error in REDIS_ERRORS},
    500: on_server_error,
}
