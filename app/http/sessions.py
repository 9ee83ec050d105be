"""Server-side sessions in Redis, with a fresh session id at login (no session fixation)."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig

ROTATE_KEY = "tremplin.rotate_session"


class RotatingSessionBackend(ServerSideSessionBackend):
    async def store_in_message(self, scope_session, message, connection: ASGIConnection) -> None:
        # A visitor without a session who leaves with nothing in it gets none: every anonymous page
        # view (a robot's included) used to create a session in Redis for hours.
        if (isinstance(scope_session, dict) and not scope_session and self.config.key not in connection.cookies
                and not connection.scope.get(ROTATE_KEY)):
            return
        await super().store_in_message(scope_session, message, connection)

    def get_session_id(self, connection: ASGIConnection) -> str:
        scope = connection.scope
        if scope.get(ROTATE_KEY):
            new_id = scope.get(ROTATE_KEY + ".id")
            if not new_id:
                new_id = scope[ROTATE_KEY + ".id"] = self.generate_session_id()
            return new_id
        return super().get_session_id(connection)


@dataclass
class SessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend


async def rotate_session(request, data: dict) -> None:
    """Drop the pre-login session from the store and give the browser a new id with ``data``."""
    old_id = request.cookies.get("session")
    if old_id:
        await request.app.stores.get("sessions").delete(old_id)
    request.scope[ROTATE_KEY] = True
    request.set_session(data)


async def keep_session_after_password_change(request, credentials_version: int) -> None:
    """The session that changed the password goes on (with a new id) under the new credentials
    version; every other session of the user, stamped with an older one, ends."""
    await rotate_session(request, {**(request.session or {}), "cv": credentials_version})
