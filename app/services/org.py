"""Delegations, establishments and role assignments: the administrator's rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from app import db
from app.services import audit
from app.validation import MaxLen, Pattern, Required, declared_errors
from app.services.errors import DomainError, NotFound, ScopeError, ValidationFailed
from app.services.text import search_text
from app.services.uniqueness import fields_unique
from app.services.roles import (
    ADMIN,
    DELEGATION_ROLES,
    ESTABLISHMENT_ROLES,
    GED,
    GET,
    ROLE_LABELS,
    TRAINER,
    CurrentUser,
)
from app.services.scope import establishment_scope, manageable_user_ids
from app.tables.accounts import RoleAssignment, User
from app.tables.catalogue import TrainingSession
from app.tables.cohorts import Cohort
from app.tables.org import Delegation, Establishment

CODE_RE = re.compile(r"^[A-Z0-9]{2,16}$")


@dataclass
class DelegationForm:
    code: Annotated[str, Pattern(CODE_RE, "Le code est obligatoire : 2 à 16 lettres majuscules ou chiffres (ex. ALP).",
                                 required=True)] = ""
    name: Annotated[str, Required("Le nom est obligatoire."), MaxLen(200, "Le nom")] = ""

    def __post_init__(self) -> None:
        self.code = self.code.strip().upper()


@dataclass
class EstablishmentForm:
    code: Annotated[str, Pattern(CODE_RE, "Le code est obligatoire : 2 à 16 lettres majuscules ou chiffres (ex. ALP001).",
                                 required=True)] = ""
    name: Annotated[str, Required("Le nom est obligatoire."), MaxLen(200, "Le nom")] = ""
    delegation: int | None = None

    def __post_init__(self) -> None:
        self.code = self.code.strip().upper()


@dataclass
class GrantForm:
    role: str = ""
    username: str = ""
    delegation: int | None = None
    establishment: int | None = None

    def __post_init__(self) -> None:
        self.username = self.username.strip().lower()


async def get_delegation(delegation_id: int) -> dict:
    row = await Delegation.select().where(Delegation.id == delegation_id).first()
    if row is None:
        raise NotFound("Délégation introuvable.")
    return row


async def get_establishment(establishment_id: int) -> dict:
    row = await Establishment.select().where(Establishment.id == establishment_id).first()
    if row is None:
        raise NotFound("Établissement introuvable.")
    return row


async def save_delegation(form: DelegationForm, delegation_id: int | None = None) -> int:
    code, name = form.code, form.name
    errors = declared_errors(form)
    if not errors:
        clash = Delegation.exists().where(Delegation.code == code)
        if delegation_id:
            clash = clash.where(Delegation.id != delegation_id)
        if await clash:
            errors["code"] = f"Le code {code} est déjà utilisé par une autre délégation."
    if errors:
        raise ValidationFailed(errors)
    values = {Delegation.code: code, Delegation.name: name, Delegation.search_text: search_text(code, name)}
    async with fields_unique():
        if delegation_id:
            updated = await Delegation.update(values).where(Delegation.id == delegation_id).returning(Delegation.id)
            if not updated:
                raise NotFound("Délégation introuvable.")
            return delegation_id
        row = await Delegation.insert(Delegation({c: v for c, v in values.items()})).returning(Delegation.id)
    return row[0]["id"]


async def delete_delegation(delegation_id: int) -> None:
    await get_delegation(delegation_id)
    if await Establishment.exists().where(Establishment.delegation == delegation_id):
        raise DomainError("Cette délégation a encore des établissements : supprimez-les ou déplacez-les d'abord.")
    await Delegation.delete().where(Delegation.id == delegation_id)


async def save_establishment(form: EstablishmentForm, establishment_id: int | None = None) -> int:
    code, name, delegation_id = form.code, form.name, form.delegation
    errors = declared_errors(form)
    if not delegation_id or not await Delegation.exists().where(Delegation.id == delegation_id):
        errors["delegation"] = "Choisissez une délégation."
    if "code" not in errors:
        clash = Establishment.exists().where(Establishment.code == code)
        if establishment_id:
            clash = clash.where(Establishment.id != establishment_id)
        if await clash:
            errors["code"] = f"Le code {code} est déjà utilisé par un autre établissement."
    if errors:
        raise ValidationFailed(errors)
    values = {Establishment.code: code, Establishment.name: name, Establishment.delegation: delegation_id,
              Establishment.search_text: search_text(code, name)}
    async with fields_unique():
        if establishment_id:
            updated = await Establishment.update(values).where(Establishment.id == establishment_id).returning(
                Establishment.id
            )
            if not updated:
                raise NotFound("Établissement introuvable.")
            return establishment_id
        row = await Establishment.insert(Establishment({c: v for c, v in values.items()})).returning(Establishment.id)
    return row[0]["id"]


async def delete_establishment(establishment_id: int) -> None:
    """Only an empty establishment goes: its accounts, sessions (and their training records) and
    cohorts would otherwise go with it."""
    await get_establishment(establishment_id)
    if await User.exists().where(User.establishment == establishment_id):
        raise DomainError("Cet établissement a encore des utilisateurs : il ne peut pas être supprimé.")
    if await TrainingSession.exists().where(TrainingSession.establishment == establishment_id):
        raise DomainError("Cet établissement a des sessions de formation (et leurs traces de formation) : "
                          "il ne peut pas être supprimé.")
    if await Cohort.exists().where(Cohort.establishment == establishment_id):
        raise DomainError("Cet établissement a encore des cohortes : supprimez-les d'abord.")
    await Establishment.delete().where(Establishment.id == establishment_id)


def grantable_roles(user: CurrentUser) -> list[str]:
    """An administrator grants every role; a GED grants the GET role within their delegation."""
    if user.is_admin:  # a trainer is made per session (app/services/trainers.py), not here
        return [r for r in ROLE_LABELS if r != TRAINER]
    if user.has_role(GED):
        return [GET]
    return []


async def grant_role(granter: CurrentUser, form: GrantForm) -> int:
    errors: dict[str, str] = {}
    role, username = form.role, form.username
    if role not in grantable_roles(granter):
        errors["role"] = "Choisissez un rôle que vous pouvez attribuer."
    target = await User.select(User.id).where(User.username == username).first() if username else None
    if target is not None and not granter.is_admin and not await manageable_user_ids(granter, [target["id"]]):
        # A GED grants roles to the accounts of their delegation only; anyone else is "unknown".
        target = None
    if target is None:
        errors["username"] = "Aucun utilisateur avec ce nom d'utilisateur."

    delegation_id = establishment_id = None
    if role in DELEGATION_ROLES:
        delegation_id = form.delegation
        if not delegation_id or not await Delegation.exists().where(Delegation.id == delegation_id):
            errors["delegation"] = "Ce rôle s'exerce sur une délégation : choisissez-la."
    elif role in ESTABLISHMENT_ROLES:
        establishment_id = form.establishment
        scope = await establishment_scope(granter)
        if not establishment_id or not scope.allows(establishment_id) or not await Establishment.exists().where(
            Establishment.id == establishment_id
        ):
            errors["establishment"] = "Ce rôle s'exerce sur un établissement de votre périmètre : choisissez-le."
    if errors:
        raise ValidationFailed(errors)
    existing = RoleAssignment.exists().where(
        (RoleAssignment.user == target["id"]) & (RoleAssignment.role == role)
    )
    existing = existing.where(
        RoleAssignment.delegation == delegation_id if delegation_id else RoleAssignment.delegation.is_null()
    ).where(
        RoleAssignment.establishment == establishment_id if establishment_id else RoleAssignment.establishment.is_null()
    )
    if await existing:
        raise ValidationFailed({"role": "Cet utilisateur a déjà ce rôle sur ce périmètre."})
    async with db.transaction():
        row = await RoleAssignment.insert(
            RoleAssignment(
                user=target["id"],
                role=role,
                delegation=delegation_id,
                establishment=establishment_id,
                granted_by=granter.id,
            )
        ).returning(RoleAssignment.id)
        await audit.record("role.granted", "user", target["id"], username,
                           {"role": role, "delegation": delegation_id, "establishment": establishment_id})
    return row[0]["id"]


async def assignment_for(granter: CurrentUser, assignment_id: int) -> dict:
    """A role assignment the granter may revoke; ScopeError (answered as not found) otherwise."""
    row = (
        await RoleAssignment.select(
            RoleAssignment.all_columns(), RoleAssignment.user.username.as_alias("username")
        )
        .where(RoleAssignment.id == assignment_id)
        .first()
    )
    if row is None:
        raise NotFound("Attribution de rôle introuvable.")
    if not granter.is_admin:
        scope = await establishment_scope(granter)
        if row["role"] not in grantable_roles(granter) or not scope.allows(row["establishment"]):
            raise ScopeError("Attribution de rôle introuvable.")
    return row


async def revoke_role(granter: CurrentUser, assignment_id: int) -> None:
    row = await assignment_for(granter, assignment_id)
    if row["role"] == ADMIN and row["user"] == granter.id:
        raise DomainError("Vous ne pouvez pas retirer votre propre rôle d'administrateur.")
    async with db.transaction():
        await RoleAssignment.delete().where(RoleAssignment.id == assignment_id)
        await audit.record("role.revoked", "user", row["user"], row["username"],
                           {"role": row["role"], "delegation": row["delegation"], "establishment": row["establishment"]})


async def user_counts(establishment_ids: list[int]) -> dict[int, int]:
    """Accounts per establishment, one grouped query."""
    if not establishment_ids:
        return {}
    from piccolo.query.functions.aggregate import Count

    rows = await User.select(User.establishment.as_alias("id"), Count(User.id, alias="n")).where(
        User.establishment.is_in(establishment_ids)).group_by(User.establishment)
    return {r["id"]: r["n"] for r in rows}


async def establishment_managers(establishment_id: int) -> list[dict]:
    return await RoleAssignment.select(
        RoleAssignment.user.first_name.as_alias("first_name"),
        RoleAssignment.user.last_name.as_alias("last_name"),
        RoleAssignment.user.username.as_alias("username"),
    ).where((RoleAssignment.establishment == establishment_id) & (RoleAssignment.role == GET)).order_by(
        RoleAssignment.user.last_name_key)
