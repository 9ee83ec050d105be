"""The user of a request, as the session middleware (app/http/web.py) put it in the ASGI scope.

Below both app/http/web.py and app/http/responder.py (web imports the responder): each reads the
user from here."""

from __future__ import annotations

from litestar.connection import ASGIConnection

from app.services.roles import CurrentUser


def current_user(connection: ASGIConnection) -> CurrentUser | None:
    return connection.scope.get("user")
