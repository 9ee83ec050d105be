"""Connexion, déconnexion, changement de mot de passe."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Controller, Request, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Response, Template

from app.http.forms import read_form
from app.http.responder import redirect, render
from app.http.web import client_ip, current_user, safe_next
from app.services import auth
from app.services.errors import ValidationFailed
from app.services.passwords import POLICY_TEXT, Password
from app.http.sessions import keep_session_after_password_change, rotate_session


@dataclass
class LoginForm:
    username: str = ""
    password: Password = ""
    next: str = ""


@dataclass
class PasswordForm:
    current: Password = ""
    new: Password = ""
    confirm: Password = ""


class AuthController(Controller):
    path = "/"
    opt = {"public": True}

    @get("/connexion", name="login")
    async def login_form(self, request: Request, next: FromQuery[str | None] = None) -> Template | Redirect:
        if current_user(request):
            return Redirect(path=safe_next(next))
        return render(request, "auth/login.html", {"next": safe_next(next), "error": None, "username": ""})

    @post("/connexion", name="login.submit")
    async def login(self, request: Request) -> Response:
        form = await read_form(request, LoginForm)
        target = safe_next(form.next)
        try:
            login = await auth.authenticate(request.app.state.redis, form.username, form.password, client_ip(request))
        except auth.LoginRefused as refused:
            return render(request, "auth/login.html", {"next": target, "error": refused.message,
                                                       "username": form.username},
                          status_code=refused.status_code)
        # A fresh session id at login: a session fixed before login is worth nothing after it.
        await rotate_session(request, {"uid": login.user_id, "cv": login.credentials_version})
        return redirect(request, target)

    @post("/deconnexion", name="logout")
    async def logout(self, request: Request) -> Response:
        await rotate_session(request, {})
        return redirect(request, "/connexion", "Vous êtes déconnecté.", "info")


class PasswordController(Controller):
    path = "/mot-de-passe"
    opt = {"password_change": True}

    @get("/", name="password")
    async def form(self, request: Request) -> Template:
        user = current_user(request)
        return render(request, "auth/password.html",
                      {"forced": user.force_password_change, "errors": {}, "policy": POLICY_TEXT})

    @post("/", name="password.change")
    async def change(self, request: Request) -> Response:
        user = current_user(request)
        form = await read_form(request, PasswordForm)
        try:
            version = await auth.change_password(user.id, form.current, form.new, form.confirm)
        except ValidationFailed as invalid:
            return render(request, "auth/password.html",
                          {"forced": user.force_password_change, "errors": invalid.errors, "policy": POLICY_TEXT},
                          status_code=422)
        # The user's other sessions end with the old password; this one goes on.
        await keep_session_after_password_change(request, version)
        return redirect(request, "/", "Votre mot de passe a été modifié.")


HANDLERS = [AuthController, PasswordController]
