"""The one answer to "which establishments may this user act on".

Every query a GET or a GED can trigger goes through ``establishment_scope`` and either
``Scope.where`` (lists) or ``require_establishment`` (one object): nothing outside the scope is
seen, counted, exported or touched. An object outside the scope is answered as "not found", so a
forged id tells nothing about what exists elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.services.errors import NotFound, ScopeError
from app.services.roles import ADMIN, DELEGATION_ROLES, ESTABLISHMENT_ROLES, GED, GET, TRAINER, CurrentUser
from app.tables.accounts import RoleAssignment, User
from app.tables.catalogue import TrainingSession
from app.tables.evidence import SessionTrainer
from app.tables.org import Delegation, Establishment


@dataclass(frozen=True)
class Scope:
    everything: bool
    establishment_ids: frozenset[int]
    delegation_ids: frozenset[int]

    def allows(self, establishment_id: int | None) -> bool:
        if establishment_id is None:
            return self.everything
        return self.everything or establishment_id in self.establishment_ids

    def where(self, column):
        """A where clause restricting ``column`` (an establishment id) to the scope, or None."""
        if self.everything:
            return None
        if not self.establishment_ids:
            return column == -1  # nothing
        return column.is_in(sorted(self.establishment_ids))

    def restrict(self, query, column):
        clause = self.where(column)
        return query if clause is None else query.where(clause)

    @property
    def is_empty(self) -> bool:
        return not self.everything and not self.establishment_ids

    def grants_beyond(self):
        """A where clause on RoleAssignment: the grants that give rights outside this scope — a
        platform role (administrator, registration manager…), a delegation that is not one of ours,
        an establishment that is not one of ours. The trainer grant is none of these by itself: it
        reaches the sessions trained, which ``users_where`` checks."""
        est_roles, del_roles = sorted(ESTABLISHMENT_ROLES), sorted(DELEGATION_ROLES)
        beyond = RoleAssignment.role.not_in(est_roles + del_roles + [TRAINER])
        outside_est = RoleAssignment.establishment.is_null()
        if self.establishment_ids:
            outside_est = outside_est | RoleAssignment.establishment.not_in(sorted(self.establishment_ids))
        if self.delegation_ids:
            outside_del = RoleAssignment.delegation.is_null() | RoleAssignment.delegation.not_in(
                sorted(self.delegation_ids))
        else:  # no delegation of ours: every delegation role is beyond
            outside_del = RoleAssignment.id.is_not_null()
        beyond = beyond | (RoleAssignment.role.is_in(est_roles) & outside_est)
        return beyond | (RoleAssignment.role.is_in(del_roles) & outside_del)

    def users_where(self):
        """A where clause on User: the accounts this scope may manage (see, edit, suspend, delete,
        set a password for). An account is manageable when its establishment is in the scope AND
        it holds no right beyond the scope: a GET never reaches their GED's or an administrator's
        account, even one whose home establishment is theirs — nor the account of someone who trains a
        session of another establishment (issue 22): a new password would open that session to them.
        An agent of theirs who trains only their sessions stays theirs. None means every account."""
        if self.everything:
            return None
        if not self.establishment_ids:
            return User.id == -1
        ours = sorted(self.establishment_ids)
        beyond = RoleAssignment.select(RoleAssignment.user).where(self.grants_beyond())
        trains_elsewhere = SessionTrainer.select(SessionTrainer.user).where(SessionTrainer.session.is_in(
            TrainingSession.select(TrainingSession.id).where(TrainingSession.establishment.not_in(ours))))
        return User.establishment.is_in(ours) & User.id.not_in(beyond) & User.id.not_in(trains_elsewhere)


NOTHING = Scope(everything=False, establishment_ids=frozenset(), delegation_ids=frozenset())


async def establishment_scope(user: CurrentUser | None) -> Scope:
    if user is None:
        return NOTHING
    if "scope" not in user.memo:
        user.memo["scope"] = await _compute_scope(user)
    return user.memo["scope"]


async def _compute_scope(user: CurrentUser) -> Scope:
    if user.has_role(ADMIN):
        return Scope(everything=True, establishment_ids=frozenset(), delegation_ids=frozenset())
    delegation_ids = {g.delegation_id for g in user.grants if g.role == GED and g.delegation_id}
    establishment_ids = {g.establishment_id for g in user.grants if g.role == GET and g.establishment_id}
    if delegation_ids:
        rows = await Establishment.select(Establishment.id).where(
            Establishment.delegation.is_in(sorted(delegation_ids))
        )
        establishment_ids.update(r["id"] for r in rows)
    return Scope(
        everything=False,
        establishment_ids=frozenset(establishment_ids),
        delegation_ids=frozenset(delegation_ids),
    )


async def manageable_user_ids(user: CurrentUser | None, user_ids: list[int]) -> set[int]:
    """Which of ``user_ids`` the caller may manage (one query)."""
    if not user_ids:
        return set()
    scope = await establishment_scope(user)
    clause = User.id.is_in(sorted(set(user_ids)))
    where = scope.users_where()
    rows = await User.select(User.id).where(clause if where is None else clause & where)
    return {r["id"] for r in rows}


async def require_establishment(user: CurrentUser | None, establishment_id: int) -> dict:
    """The establishment row if the user may act on it; ScopeError otherwise (also if it does not exist)."""
    scope = await establishment_scope(user)
    if not scope.allows(establishment_id):
        raise ScopeError("Établissement introuvable.")
    row = (
        await Establishment.select(
            Establishment.all_columns(),
            Establishment.delegation.code.as_alias("delegation_code"),
            Establishment.delegation.name.as_alias("delegation_name"),
        )
        .where(Establishment.id == establishment_id)
        .first()
    )
    if row is None:
        raise ScopeError("Établissement introuvable.")
    return row


async def establishments_in_scope(user: CurrentUser | None) -> list[dict]:
    scope = await establishment_scope(user)
    query = Establishment.select(
        Establishment.id,
        Establishment.code,
        Establishment.name,
        Establishment.delegation.id.as_alias("delegation_id"),
        Establishment.delegation.code.as_alias("delegation_code"),
        Establishment.delegation.name.as_alias("delegation_name"),
    ).order_by(Establishment.code)
    return await scope.restrict(query, Establishment.id)


async def delegations_in_scope(user: CurrentUser | None) -> list[dict]:
    scope = await establishment_scope(user)
    query = Delegation.select(Delegation.id, Delegation.code, Delegation.name).order_by(Delegation.code)
    if scope.everything:
        return await query
    # A GET sees the delegations of their establishments; a GED their own.
    ids = set(scope.delegation_ids)
    if scope.establishment_ids:
        rows = await Establishment.select(Establishment.delegation).where(
            Establishment.id.is_in(sorted(scope.establishment_ids))
        )
        ids.update(r["delegation"] for r in rows)
    if not ids:
        return []
    return await query.where(Delegation.id.is_in(sorted(ids)))


async def establishment_choices(user: CurrentUser | None) -> list[tuple[str, str]]:
    """(id, "CODE — Name") of the establishments in scope, for select fields and filters."""
    return [(str(e["id"]), f"{e['code']} — {e['name']}") for e in await establishments_in_scope(user)]


async def delegation_choices(user: CurrentUser | None) -> list[tuple[str, str]]:
    return [(str(d["id"]), f"{d['code']} — {d['name']}") for d in await delegations_in_scope(user)]


def check_in_scope(scope: Scope, row: dict | None, message: str) -> dict:
    """``row`` (a record holding ``establishment``) if it exists and lies in ``scope``; otherwise the
    same « … introuvable » whether it is missing (NotFound) or another establishment's (ScopeError,
    answered alike): an id never tells what exists outside the scope."""
    if row is None:
        raise NotFound(message)
    if not scope.allows(row["establishment"]):
        raise ScopeError(message)
    return row


async def row_in_scope(user: CurrentUser | None, table, row_id: int, message: str, *extra) -> dict:
    """One row of ``table`` (which has an ``establishment`` column) with its establishment's code and
    name (and the ``extra`` columns), if ``user`` may act on that establishment (``check_in_scope``)."""
    row = await table.select(
        table.all_columns(), table.establishment.code.as_alias("establishment_code"),
        table.establishment.name.as_alias("establishment_name"), *extra,
    ).where(table.id == row_id).first()
    return check_in_scope(await establishment_scope(user), row, message)
