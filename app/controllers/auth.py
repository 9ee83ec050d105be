"""Connexion, déconnexion, changement de mot de passe."""

from __future__ import annotations

from litestar.params import FromQuery
from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from app.services import auth
from app.services.errors import ValidationFailed
from app.services.passwords import POLICY_TEXT
from app.sessions import rotate_session
from app.http.web import current_user, safe_next
from app.http.responder import redirect
from app.http.forms import form_data


def client_ip(request: Request) -> str:
    # Behind a load balancer, uvicorn's --proxy-headers puts the real address in request.client.
    return request.client.host if request.client else "unknown"


class AuthController(Controller):
    path = "/"
    opt = {"public": True}

    @get("/connexion")
    async def login_form(self, request: Request, next: FromQuery[str | None] = None) -> Template | Redirect:
        if current_user(request):
            return Redirect(path=safe_next(next))
        return Template("auth/login.html", context={"next": safe_next(next), "error": None, "username": ""})

    @post("/connexion")
    async def login(self, request: Request) -> Template | Redirect:
        data = await form_data(request)
        username = str(data.get("username", ""))
        target = safe_next(str(data.get("next", "")))
        try:
            user_id = await auth.authenticate(
                request.app.state.redis, username, str(data.get("password", "")), client_ip(request)
            )
        except auth.LoginRefused as refused:
            return Template(
                "auth/login.html",
                context={"next": target, "error": refused.message, "username": username},
                status_code=400,
            )
        # A fresh session id at login: a session fixed before login is worth nothing after it.
        await rotate_session(request, {"uid": user_id})
        return redirect(request, target)

    @post("/deconnexion", opt={"public": True})
    async def logout(self, request: Request) -> Redirect:
        await rotate_session(request, {})
        return redirect(request, "/connexion", "Vous êtes déconnecté.", "info")


class PasswordController(Controller):
    path = "/mot-de-passe"
    opt = {"password_change": True}

    @get("/")
    async def form(self, request: Request) -> Template:
        user = current_user(request)
        return Template(
            "auth/password.html",
            context={"forced": user.force_password_change, "errors": {}, "policy": POLICY_TEXT},
        )

    @post("/")
    async def change(self, request: Request) -> Template:
        user = current_user(request)
        data = await form_data(request)
        try:
            await auth.change_password(
                user.id, str(data.get("current", "")), str(data.get("new", "")), str(data.get("confirm", ""))
            )
        except ValidationFailed as invalid:
            return Template(
                "auth/password.html",
                context={"forced": user.force_password_change, "errors": invalid.errors, "policy": POLICY_TEXT},
                status_code=422,
            )
        return redirect(request, "/", "Votre mot de passe a été modifié.")


HANDLERS = [AuthController, PasswordController]
