"""Delegations, establishments and role assignments: the administrator's rules."""

from __future__ import annotations

import re

from app.services.errors import DomainError, NotFound, ScopeError, ValidationFailed
from app.services.roles import (
    ADMIN,
    DELEGATION_ROLES,
    ESTABLISHMENT_ROLES,
    GED,
    GET,
    ROLE_LABELS,
    CurrentUser,
)
from app.services.scope import establishment_scope, manageable_user_ids
from app.tables.accounts import RoleAssignment, User
from app.tables.org import Delegation, Establishment

CODE_RE = re.compile(r"^[A-Z0-9]{2,16}$")


def _code(value: str) -> str:
    return (value or "").strip().upper()


async def save_delegation(data: dict, delegation_id: int | None = None) -> int:
    code, name = _code(data.get("code", "")), (data.get("name") or "").strip()
    errors = {}
    if not CODE_RE.match(code):
        errors["code"] = "Le code est obligatoire : 2 à 16 lettres majuscules ou chiffres (ex. ALP)."
    if not name:
        errors["name"] = "Le nom est obligatoire."
    if not errors:
        clash = Delegation.exists().where(Delegation.code == code)
        if delegation_id:
            clash = clash.where(Delegation.id != delegation_id)
        if await clash:
            errors["code"] = f"Le code {code} est déjà utilisé par une autre délégation."
    if errors:
        raise ValidationFailed(errors)
    if delegation_id:
        updated = await Delegation.update({Delegation.code: code, Delegation.name: name}).where(
            Delegation.id == delegation_id
        ).returning(Delegation.id)
        if not updated:
            raise NotFound("Délégation introuvable.")
        return delegation_id
    row = await Delegation.insert(Delegation(code=code, name=name)).returning(Delegation.id)
    return row[0]["id"]


async def delete_delegation(delegation_id: int) -> None:
    if await Establishment.exists().where(Establishment.delegation == delegation_id):
        raise DomainError("Cette délégation a encore des établissements : supprimez-les ou déplacez-les d'abord.")
    await Delegation.delete().where(Delegation.id == delegation_id)


async def save_establishment(data: dict, establishment_id: int | None = None) -> int:
    code, name = _code(data.get("code", "")), (data.get("name") or "").strip()
    errors = {}
    try:
        delegation_id = int(data.get("delegation") or 0)
    except ValueError:
        delegation_id = 0
    if not CODE_RE.match(code):
        errors["code"] = "Le code est obligatoire : 2 à 16 lettres majuscules ou chiffres (ex. ALP001)."
    if not name:
        errors["name"] = "Le nom est obligatoire."
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
    values = {Establishment.code: code, Establishment.name: name, Establishment.delegation: delegation_id}
    if establishment_id:
        updated = await Establishment.update(values).where(Establishment.id == establishment_id).returning(
            Establishment.id
        )
        if not updated:
            raise NotFound("Établissement introuvable.")
        return establishment_id
    row = await Establishment.insert(Establishment(code=code, name=name, delegation=delegation_id)).returning(
        Establishment.id
    )
    return row[0]["id"]


async def delete_establishment(establishment_id: int) -> None:
    if await User.exists().where(User.establishment == establishment_id):
        raise DomainError("Cet établissement a encore des utilisateurs : il ne peut pas être supprimé.")
    await Establishment.delete().where(Establishment.id == establishment_id)


def grantable_roles(user: CurrentUser) -> list[str]:
    """An administrator grants every role; a GED grants the GET role within their delegation."""
    if user.is_admin:
        return list(ROLE_LABELS)
    if user.has_role(GED):
        return [GET]
    return []


async def grant_role(granter: CurrentUser, data: dict) -> int:
    errors: dict[str, str] = {}
    role = (data.get("role") or "").strip()
    username = (data.get("username") or "").strip().lower()
    if role not in grantable_roles(granter):
        errors["role"] = "Choisissez un rôle que vous pouvez attribuer."
    target = await User.select(User.id).where(User.username == username).first() if username else None
    if target is not None and not granter.is_admin and not await manageable_user_ids(granter, [target["id"]]):
        # A GED grants roles to the accounts of their delegation only; anyone else is "unknown".
        target = None
    if target is None:
        errors["username"] = "Aucun utilisateur avec ce nom d'utilisateur."

    def _int(key):
        try:
            return int(data.get(key) or 0) or None
        except ValueError:
            return None

    delegation_id = establishment_id = None
    if role in DELEGATION_ROLES:
        delegation_id = _int("delegation")
        if not delegation_id or not await Delegation.exists().where(Delegation.id == delegation_id):
            errors["delegation"] = "Ce rôle s'exerce sur une délégation : choisissez-la."
    elif role in ESTABLISHMENT_ROLES:
        establishment_id = _int("establishment")
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
    row = await RoleAssignment.insert(
        RoleAssignment(
            user=target["id"],
            role=role,
            delegation=delegation_id,
            establishment=establishment_id,
            granted_by=granter.id,
        )
    ).returning(RoleAssignment.id)
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
    await RoleAssignment.delete().where(RoleAssignment.id == assignment_id)
