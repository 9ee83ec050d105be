"""Comptes utilisateurs: "Gérer mes utilisateurs" (SPEC A4) and "Créer un compte manuel" (A2)."""

from __future__ import annotations

from datetime import timedelta

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Response, Template

from app.dates import local_naive, now
from app.datatable import Col, DataTable, Filter
from app.services import accounts
from app.services.errors import ValidationFailed
from app.services.passwords import POLICY_TEXT, policy_error
from app.services.roles import ADMIN, GED, GET
from app.services.scope import establishment_choices, manageable_user_ids, require_establishment
from app.services.text import fold
from app.tables.accounts import User
from app.tableview import register, table_view
from app.templating import confirm_page, render
from app.web import current_user, form_data, redirect

MANAGERS = (ADMIN, GED, GET)


def _last_access_filter(value: str):
    t = now()
    return {
        "jamais": User.last_access.is_null(),
        "7j": User.last_access >= t - timedelta(days=7),
        "30j": User.last_access >= t - timedelta(days=30),
        "plus30j": User.last_access < t - timedelta(days=30),
        "plus180j": User.last_access < t - timedelta(days=180),
    }.get(value)


def _int(value: str):
    try:
        return int(value)
    except ValueError:
        return None



USERS = register(
    DataTable(
        name="users",
        table=User,
        select=(
            User.id,
            User.first_name,
            User.last_name,
            User.username,
            User.email,
            User.status,
            User.is_suspended,
            User.last_access,
            User.establishment.code.as_alias("establishment_code"),
            User.establishment.name.as_alias("establishment_name"),
            User.establishment.delegation.name.as_alias("instance"),
        ),
        columns=(
            Col("last_name", "Prénom / Nom de famille", User.last_name_key,
                export=lambda r: f"{r['first_name']} {r['last_name']}"),
            Col("username", "Nom d'utilisateur", User.username),
            Col("email", "Adresse de courriel", User.email),
            Col("status", "Statut", User.status),
            Col("establishment", "Établissement", User.establishment.code, export=lambda r: r["establishment_name"]),
            Col("instance", "Instance", User.establishment.delegation.name),
            Col("partner", "Organisation partenaire", export=lambda r: ""),
            Col("state", "État du compte", User.is_suspended,
                export=lambda r: "Suspendu" if r["is_suspended"] else "Actif"),
            Col("last_access", "Dernier accès", User.last_access,
                export=lambda r: local_naive(r["last_access"]) if r["last_access"] else "Jamais"),
        ),
        filters=(
            Filter("nom", "Nom de famille", lambda v: User.last_name_key.like(f"%{fold(v)}%")),
            Filter("prenom", "Prénom", lambda v: User.first_name_key.like(f"%{fold(v)}%")),
            Filter("email", "Adresse de courriel", lambda v: User.email.like(f"%{v.strip().lower()}%")),
            Filter(
                "statut", "Statut", lambda v: User.status == v, kind="select",
                options=[(s, s) for s in accounts.STATUSES],
            ),
            Filter(
                "etat", "État du compte",
                lambda v: {"actif": User.is_suspended == False, "suspendu": User.is_suspended == True}.get(v),  # noqa: E712
                kind="select", options=[("actif", "Actif"), ("suspendu", "Suspendu")],
            ),
            Filter(
                "etablissement", "Établissement",
                lambda v: User.establishment == _int(v) if _int(v) else None,
                kind="select", options=establishment_choices,
            ),
            Filter(
                "acces", "Dernier accès", _last_access_filter, kind="select",
                options=[
                    ("jamais", "Jamais"), ("7j", "Moins de 7 jours"), ("30j", "Moins de 30 jours"),
                    ("plus30j", "Plus de 30 jours"), ("plus180j", "Plus de 6 mois"),
                ],
            ),
        ),
        default_sort="last_name",
        # Not scope_column: the accounts a manager may see are those they may manage (their
        # establishments' accounts, minus any holding rights beyond their scope).
        base_where=lambda user, scope: scope.users_where(),
        export_filename="utilisateurs",
    )
)


def _form_context(values: dict, errors: dict, establishments, **extra) -> dict:
    return {
        "values": values, "errors": errors, "establishments": establishments,
        "statuses": [(s, s) for s in accounts.STATUSES], "policy": POLICY_TEXT, **extra,
    }


class UserController(Controller):
    path = "/utilisateurs"
    opt = {"roles": MANAGERS}

    @get("/")
    async def index(self, request: Request) -> Response:
        return await table_view(request, USERS, "users/index.html", "users/_table.html")

    # -- inline checks (htmx) and suggestion ------------------------------------------------
    @get("/verifier-nom")
    async def check_username(self, request: Request) -> Template:
        data = dict(request.query_params)
        username = (data.get("username") or "").strip().lower()
        # The account being edited is excluded from the check only if the caller may manage it:
        # a foreign id must not tell whose username this is.
        editing = _int(data.get("user_id") or "")
        if editing and editing not in await manageable_user_ids(current_user(request), [editing]):
            editing = None
        problem = await accounts.username_problem(username, editing or None)
        return Template("users/_check.html", context={"problem": problem, "ok": "Nom d'utilisateur disponible."})

    @post("/verifier-mot-de-passe")
    async def check_password(self, request: Request) -> Template:
        data = await form_data(request)
        password = str(data.get("password", ""))
        problem = policy_error(password) if password else None
        return Template(
            "users/_check.html", context={"problem": problem, "ok": "Mot de passe conforme." if password else ""},
            status_code=200,
        )

    @get("/suggestion")
    async def suggestion(self, request: Request) -> Template:
        """The username field, proposed from the establishment and the names (A1)."""
        data = dict(request.query_params)
        user = current_user(request)
        establishment_id = _int(data.get("establishment") or "")
        values = {"username": data.get("username", "")}
        problem = None
        if establishment_id and data.get("last_name"):
            establishment = await require_establishment(user, establishment_id)
            wanted = accounts.suggest_username(establishment["code"], data.get("first_name", ""), data["last_name"])
            values["username"] = await accounts.free_username(wanted)
        return Template("users/_username_field.html", context={"values": values, "errors": {}, "problem": problem})

    # -- edit ---------------------------------------------------------------------------------
    @get("/{user_id:int}/modifier")
    async def edit_form(self, request: Request, user_id: FromPath[int]) -> Template:
        user = current_user(request)
        target = await accounts.user_in_scope(user, user_id)
        values = {**target, "establishment": target["establishment"]}
        return render(request, "users/edit.html", _form_context(
            values, {}, await establishment_choices(user), target=target))

    @post("/{user_id:int}/modifier")
    async def edit(self, request: Request, user_id: FromPath[int]) -> Response:
        user = current_user(request)
        target = await accounts.user_in_scope(user, user_id)
        data = await form_data(request)
        try:
            await accounts.update_account(user, user_id, accounts.AccountForm.from_form(data))
        except ValidationFailed as invalid:
            return render(request, "users/edit.html", _form_context(
                data, invalid.errors, await establishment_choices(user), target=target), status_code=422)
        return redirect(request, "/utilisateurs", f"Le profil de {data.get('first_name')} {data.get('last_name')} est enregistré.")

    # -- actions ------------------------------------------------------------------------------
    @get("/{user_id:int}/mot-de-passe")
    async def confirm_password(self, request: Request, user_id: FromPath[int]) -> Template:
        target = await accounts.user_in_scope(current_user(request), user_id)
        return confirm_page(
            request,
            f"Générer un nouveau mot de passe pour {target['first_name']} {target['last_name']} ({target['username']}) ? "
            "Il lui sera envoyé par courriel et devra être changé à la prochaine connexion.",
            "/utilisateurs", "Régénérer le mot de passe",
        )

    @post("/{user_id:int}/mot-de-passe")
    async def regenerate(self, request: Request, user_id: FromPath[int]) -> Response:
        password, mailed = await accounts.regenerate_password(current_user(request), user_id, request.app.state.redis)
        if mailed:
            return redirect(request, "/utilisateurs", "Nouveau mot de passe envoyé par courriel ; changement imposé.")
        return render(request, "users/password_shown.html", {"password": password})

    @post("/{user_id:int}/suspendre")
    async def suspend(self, request: Request, user_id: FromPath[int]) -> Response:
        return await self._set_suspended(request, user_id, True)

    @post("/{user_id:int}/reactiver")
    async def reactivate(self, request: Request, user_id: FromPath[int]) -> Response:
        return await self._set_suspended(request, user_id, False)

    async def _set_suspended(self, request: Request, user_id: int, suspended: bool) -> Response:
        user = current_user(request)
        try:
            target = await accounts.set_suspended(user, user_id, suspended)
        except ValidationFailed as invalid:
            return redirect(request, "/utilisateurs", invalid.message, "error")
        name = f"{target['first_name']} {target['last_name']}"
        message = f"Compte de {name} suspendu." if suspended else f"Compte de {name} réactivé."
        if getattr(request, "htmx", False):
            # Swap just the row, with its new state.
            fresh = await User.select(*USERS.select).where(User.id == user_id).first()
            return Template("users/_row.html", context={"row": fresh}, status_code=200)
        return redirect(request, "/utilisateurs", message)

    @get("/{user_id:int}/supprimer")
    async def confirm_delete(self, request: Request, user_id: FromPath[int]) -> Template:
        target = await accounts.user_in_scope(current_user(request), user_id)
        return confirm_page(
            request,
            f"Supprimer définitivement le compte de {target['first_name']} {target['last_name']} ({target['username']}) ?",
            "/utilisateurs",
        )

    @post("/{user_id:int}/supprimer")
    async def delete(self, request: Request, user_id: FromPath[int]) -> Response:
        try:
            target = await accounts.delete_account(current_user(request), user_id)
        except ValidationFailed as invalid:
            return redirect(request, "/utilisateurs", invalid.message, "error")
        return redirect(request, "/utilisateurs", f"Compte {target['username']} supprimé.")


class ManualAccountController(Controller):
    """"Créer un compte manuel", from the establishment's menu."""

    path = "/etablissements/{establishment_id:int}/comptes"
    opt = {"roles": MANAGERS}

    async def _page(self, request, establishment, values, errors, status_code=200):
        user = current_user(request)
        return render(
            request, "users/create.html",
            _form_context(values, errors, await establishment_choices(user), establishment=establishment),
            status_code=status_code,
        )

    @get("/nouveau")
    async def form(self, request: Request, establishment_id: FromPath[int]) -> Template:
        establishment = await require_establishment(current_user(request), establishment_id)
        return await self._page(request, establishment, {"establishment": establishment_id,
                                                         "status": "Agent FPH"}, {})

    @post("/nouveau")
    async def create(self, request: Request, establishment_id: FromPath[int]) -> Response:
        user = current_user(request)
        establishment = await require_establishment(user, establishment_id)
        data = await form_data(request)
        data.setdefault("establishment", establishment_id)
        form = accounts.AccountForm.from_form(data)
        if data.get("action") == "suggest" or not form.username:
            # "Proposer" (or an empty username): fill it from the nomenclature, and show the form again.
            if form.last_name:
                est = await require_establishment(user, form.establishment_id or establishment_id)
                data["username"] = await accounts.free_username(
                    accounts.suggest_username(est["code"], form.first_name, form.last_name))
            if data.get("action") == "suggest":
                return await self._page(request, establishment, data, {})
            form = accounts.AccountForm.from_form(data)
        try:
            await accounts.create_account(user, form, request.app.state.redis)
        except ValidationFailed as invalid:
            return await self._page(request, establishment, data, invalid.errors, status_code=422)
        message = f"Compte {form.username} créé."
        if form.generate_password:
            message += " Ses identifiants lui sont envoyés par courriel."
        return redirect(request, f"/utilisateurs?etablissement={form.establishment_id}", message)


HANDLERS = [UserController, ManualAccountController]
