"""Comptes utilisateurs: "Gérer mes utilisateurs" (SPEC A4) and "Créer un compte manuel" (A2)."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Response, Template

from app.http.forms import as_values, parse_form, read_form
from app.http.responder import confirm_page, redirect, render, url, wants_fragment
from app.http.tableview import table_view
from app.http.web import current_user, safe_next
from app.lists.users import USERS, user_row
from app.services import account_actions, accounts
from app.services.auth import credentials_version
from app.services.errors import ValidationFailed
from app.services.passwords import POLICY_TEXT, Password, policy_error
from app.services.roles import ADMIN, GED, GET
from app.services.scope import delegation_choices, establishment_choices, manageable_user_ids, require_establishment
from app.http.sessions import keep_session_after_password_change

MANAGERS = (ADMIN, GED, GET)


@dataclass
class UsernameCheck:
    username: str = ""
    user_id: int | None = None


@dataclass
class PasswordCheck:
    password: Password = ""


@dataclass
class Back:
    """Where a row action returns: the list with the filters the manager had."""

    next: str = ""


def _back(request: Request, value: str | None) -> str:
    return safe_next(value, url(request, "users.index"))


async def _form_context(request: Request, values: dict, errors: dict, **extra) -> dict:
    return {
        "values": values, "errors": errors, "establishments": await establishment_choices(current_user(request)),
        "delegations": await delegation_choices(current_user(request)),
        "statuses": list(accounts.STATUS_LABELS.items()), "policy": POLICY_TEXT, **extra,
    }


async def _keep_own_session(request: Request, user_id: int) -> None:
    """A new password ends the person's sessions, except this one when it is their own."""
    if user_id == current_user(request).id:
        await keep_session_after_password_change(request, await credentials_version(user_id))


class UserController(Controller):
    path = "/utilisateurs"
    opt = {"roles": MANAGERS}

    @get("/", name="users.index")
    async def index(self, request: Request) -> Response:
        return await table_view(request, USERS, "users/index.html", "users/_table.html",
                                {"back": str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")})

    # -- inline checks (htmx) and suggestion ------------------------------------------------
    @get("/verifier-nom", name="users.check_username")
    async def check_username(self, request: Request) -> Template:
        check = parse_form(UsernameCheck, request.query_params)
        # The account being edited is excluded from the check only if the caller may manage it:
        # a foreign id must not tell whose username this is.
        editing = check.user_id
        if editing and editing not in await manageable_user_ids(current_user(request), [editing]):
            editing = None
        problem = await accounts.username_problem(check.username.lower(), editing)
        return render(request, "users/_check.html", {"problem": problem, "ok": "Nom d'utilisateur disponible."})

    @post("/verifier-mot-de-passe", name="users.check_password")
    async def check_password(self, request: Request) -> Template:
        password = (await read_form(request, PasswordCheck)).password
        problem = policy_error(password) if password else None
        return render(request, "users/_check.html",
                      {"problem": problem, "ok": "Mot de passe conforme." if password else ""})

    @get("/suggestion", name="users.suggestion")
    async def suggestion(self, request: Request) -> Template:
        """The username field, proposed from the establishment and the names (A1)."""
        form = parse_form(accounts.AccountForm, request.query_params)
        values = {"username": form.username}
        if form.establishment and (form.last_name or form.kind == "test"):
            establishment = await require_establishment(current_user(request), form.establishment)
            values["username"] = await accounts.suggested_username(establishment, form)
        return render(request, "users/_username_field.html", {"values": values, "errors": {}})

    # -- edit ---------------------------------------------------------------------------------
    @get("/{user_id:int}/modifier", name="users.edit")
    async def edit_form(self, request: Request, user_id: FromPath[int], next: FromQuery[str | None] = None) -> Template:
        target = await accounts.user_in_scope(current_user(request), user_id)
        return render(request, "users/edit.html", await _form_context(
            request, dict(target), {}, target=target, back=_back(request, next)))

    @post("/{user_id:int}/modifier", name="users.update")
    async def edit(self, request: Request, user_id: FromPath[int]) -> Response:
        user = current_user(request)
        target = await accounts.user_in_scope(user, user_id)
        form = await read_form(request, accounts.AccountForm)
        back = _back(request, (await read_form(request, Back)).next)
        try:
            await accounts.update_account(user, user_id, form)
        except ValidationFailed as invalid:
            return render(request, "users/edit.html", await _form_context(
                request, as_values(form), invalid.errors, target=target, back=back), status_code=422)
        if form.password:
            await _keep_own_session(request, user_id)
        return redirect(request, back, f"Le profil de {form.first_name} {form.last_name} est enregistré.")

    # -- actions ------------------------------------------------------------------------------
    @get("/{user_id:int}/mot-de-passe", name="users.confirm_password")
    async def confirm_password(self, request: Request, user_id: FromPath[int],
                               next: FromQuery[str | None] = None) -> Template:
        target = await accounts.user_in_scope(current_user(request), user_id)
        how = ("Il sera affiché ici une seule fois (cette personne n'a pas d'adresse de courriel) : "
               "vous le lui communiquerez." if accounts.is_fictitious(target["email"])
               else f"Il lui sera envoyé par courriel à {target['email']}.")
        return confirm_page(
            request,
            f"Générer un nouveau mot de passe pour {target['first_name']} {target['last_name']} ({target['username']}) ?",
            _back(request, next), "Régénérer le mot de passe",
            details=[how, "Le changement sera imposé à sa prochaine connexion."],
        )

    @post("/{user_id:int}/mot-de-passe", name="users.regenerate_password")
    async def regenerate(self, request: Request, user_id: FromPath[int]) -> Response:
        back = _back(request, (await read_form(request, Back)).next)
        password, mailed = await account_actions.regenerate_password(current_user(request), user_id, request.app.state.redis)
        await _keep_own_session(request, user_id)
        if mailed:
            return redirect(request, back, "Nouveau mot de passe envoyé par courriel ; changement imposé.")
        return render(request, "users/password_shown.html", {"password": password, "back": back}, no_store=True)

    @post("/{user_id:int}/suspendre", name="users.suspend")
    async def suspend(self, request: Request, user_id: FromPath[int]) -> Response:
        return await self._set_suspended(request, user_id, True)

    @post("/{user_id:int}/reactiver", name="users.reactivate")
    async def reactivate(self, request: Request, user_id: FromPath[int]) -> Response:
        return await self._set_suspended(request, user_id, False)

    async def _set_suspended(self, request: Request, user_id: int, suspended: bool) -> Response:
        user = current_user(request)
        back = _back(request, (await read_form(request, Back)).next)
        try:
            target = await account_actions.set_suspended(user, user_id, suspended)
        except ValidationFailed as invalid:
            return redirect(request, back, invalid.message, "error")
        name = f"{target['first_name']} {target['last_name']}"
        message = f"Compte de {name} suspendu." if suspended else f"Compte de {name} réactivé."
        if wants_fragment(request):
            # Swap just the row, with its new state.
            row = await user_row(user, user_id)
            return render(request, "users/_row.html", {"row": row, "back": back})
        return redirect(request, back, message)

    @get("/{user_id:int}/supprimer", name="users.confirm_delete")
    async def confirm_delete(self, request: Request, user_id: FromPath[int], next: FromQuery[str | None] = None) -> Template:
        target = await accounts.user_in_scope(current_user(request), user_id)
        if await account_actions.has_training_records(user_id):
            return confirm_page(
                request,
                f"Supprimer le compte de {target['first_name']} {target['last_name']} ({target['username']}) ?",
                _back(request, next),
                details=["Cette personne a des traces de formation (inscriptions, progression) : elles sont "
                         "conservées. Le compte est désactivé : il ne peut plus se connecter et n'apparaît plus "
                         "dans les listes."],
            )
        return confirm_page(
            request,
            f"Supprimer définitivement le compte de {target['first_name']} {target['last_name']} ({target['username']}) ?",
            _back(request, next),
        )

    @post("/{user_id:int}/supprimer", name="users.delete")
    async def delete(self, request: Request, user_id: FromPath[int]) -> Response:
        back = _back(request, (await read_form(request, Back)).next)
        try:
            target = await account_actions.delete_account(current_user(request), user_id)
        except ValidationFailed as invalid:
            return redirect(request, back, invalid.message, "error")
        if target["deactivated"]:
            return redirect(request, back, f"Compte {target['username']} désactivé : il ne peut plus se connecter et "
                                           "n'apparaît plus dans les listes ; ses traces de formation sont conservées.")
        return redirect(request, back, f"Compte {target['username']} supprimé.")


class ManualAccountController(Controller):
    """"Créer un compte manuel", from the establishment's menu."""

    path = "/etablissements/{establishment_id:int}/comptes"
    opt = {"roles": MANAGERS}

    async def _page(self, request, establishment, values, errors, status_code=200):
        return render(request, "users/create.html",
                      await _form_context(request, values, errors, establishment=establishment),
                      status_code=status_code)

    @get("/nouveau", name="accounts.new")
    async def form(self, request: Request, establishment_id: FromPath[int]) -> Template:
        establishment = await require_establishment(current_user(request), establishment_id)
        return await self._page(request, establishment, {"establishment": establishment_id, "status": "fph_agent",
                                                         "kind": "agent", "delegation": establishment["delegation"]}, {})

    @post("/nouveau", name="accounts.create")
    async def create(self, request: Request, establishment_id: FromPath[int]) -> Response:
        user = current_user(request)
        establishment = await require_establishment(user, establishment_id)
        form = await read_form(request, accounts.AccountForm)
        form.establishment = form.establishment or establishment_id
        action = (await request.form()).get("action")
        if action == "suggest" or not form.username:
            # "Proposer" (or an empty username): fill it from the nomenclature, and show the form again.
            if form.last_name or form.kind == "test":
                chosen = await require_establishment(user, form.establishment)
                form.username = await accounts.suggested_username(chosen, form)
            if action == "suggest":
                return await self._page(request, establishment, as_values(form), {})
        try:
            await accounts.create_account(user, form, request.app.state.redis)
        except ValidationFailed as invalid:
            return await self._page(request, establishment, as_values(form), invalid.errors, status_code=422)
        message = f"Compte {form.username} créé."
        if form.generate_password:
            message += " Ses identifiants lui sont envoyés par courriel."
        return redirect(request, url(request, "users.index", {"establishment": form.establishment}), message)


HANDLERS = [UserController, ManualAccountController]
