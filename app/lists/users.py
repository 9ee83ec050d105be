"""« Gérer mes utilisateurs » (SPEC A4)."""

from __future__ import annotations

from datetime import timedelta

from app.datatable import Col, DataTable, Filter, choice_filter
from app.db import among
from app.dates import local_naive, now
from app.lists import register
from app.lists._common import ESTABLISHMENT_CHOICES
from app.services.accounts import STATUS_LABELS
from app.services.text import search
from app.tables.accounts import User
from app.tables.registration import RegistrationRequest

LAST_ACCESS = {
    "never": "Jamais",
    "7d": "Moins de 7 jours",
    "30d": "Moins de 30 jours",
    "over30d": "Plus de 30 jours",
    "over180d": "Plus de 6 mois",
}


def _last_access(value: str):
    t = now()
    return {
        "never": User.last_access.is_null(),
        "7d": User.last_access >= t - timedelta(days=7),
        "30d": User.last_access >= t - timedelta(days=30),
        "over30d": User.last_access < t - timedelta(days=30),
        "over180d": User.last_access < t - timedelta(days=180),
    }.get(value)


async def _partner_organisations(rows: list[dict]) -> list[dict]:
    """"Organisation partenaire": the organisation of the person's latest registration request
    (one query per page)."""
    ids = [r["id"] for r in rows]
    partners: dict[int, str] = {}
    if ids:
        requests = await RegistrationRequest.select(
            RegistrationRequest.user, RegistrationRequest.organisation.name.as_alias("name"),
        ).where(among(RegistrationRequest.user, ids) & RegistrationRequest.organisation.is_not_null()
                & (RegistrationRequest.status != "draft")).order_by(RegistrationRequest.id)
        partners = {r["user"]: r["name"] for r in requests}
    for r in rows:
        r["partner"] = partners.get(r["id"], "")
    return rows


def _manageable(scope):
    """Accounts the caller may manage, deactivated ones (kept for their training records) aside."""
    where = scope.users_where()
    live = User.deactivated_at.is_null()
    return live if where is None else where & live


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
            User.external,
        ),
        columns=(
            Col("last_name", "Prénom / Nom de famille", User.last_name_key,
                export=lambda r: f"{r['first_name']} {r['last_name']}"),
            Col("username", "Nom d'utilisateur", User.username),
            Col("email", "Adresse de courriel", User.email),
            Col("status", "Statut", User.status, export=lambda r: STATUS_LABELS.get(r["status"], r["status"])),
            Col("establishment", "Établissement", User.establishment.code,
                export=lambda r: r["establishment_name"] or ("Externe" if r["external"] else "")),
            Col("instance", "Instance", User.establishment.delegation.name),
            Col("partner", "Organisation partenaire"),
            Col("state", "État du compte", User.is_suspended,
                export=lambda r: "Suspendu" if r["is_suspended"] else "Actif"),
            Col("last_access", "Dernier accès", User.last_access,
                export=lambda r: local_naive(r["last_access"])),  # never: an empty cell (a date column)
        ),
        filters=(
            Filter("last_name", "Nom de famille", lambda v: search(User.last_name_key, v)),
            Filter("first_name", "Prénom", lambda v: search(User.first_name_key, v)),
            Filter("email", "Adresse de courriel", lambda v: search(User.email, v)),
            Filter("status", "Statut", lambda v: User.status == v if v in STATUS_LABELS else None, kind="select",
                   options=list(STATUS_LABELS.items())),
            Filter("state", "État du compte",
                   lambda v: {"active": User.is_suspended == False, "suspended": User.is_suspended == True}.get(v),  # noqa: E712
                   kind="select", options=[("active", "Actif"), ("suspended", "Suspendu")]),
            choice_filter("establishment", "Établissement", User.establishment, ESTABLISHMENT_CHOICES),
            Filter("last_access", "Dernier accès", _last_access, kind="select", options=list(LAST_ACCESS.items())),
            # External trainees (registered through the public wizard) have no establishment: only
            # an administrator's list has them.
            Filter("audience", "Public", lambda v: {"agents": User.external != True,  # noqa: E712
                                                    "external": User.external == True}.get(v),  # noqa: E712
                   kind="select", options=[("agents", "Agents"), ("external", "Externes")]),
        ),
        default_sort="last_name",
        # Not scope_column: the accounts a manager may see are those they may manage (their
        # establishments' accounts, minus any holding rights beyond their scope).
        base_where=lambda user, scope: _manageable(scope),
        export_filename="utilisateurs",
        enrich=_partner_organisations,
    )
)


async def user_row(user, user_id: int) -> dict | None:
    """One row of the list (after a row action), within what the caller may manage."""
    page = await USERS.fetch(user, {}, extra=User.id == user_id)
    return page.rows[0] if page.rows else None
