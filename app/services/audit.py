"""The audit trail of sensitive actions (issue 25): ``record`` one action, read by administrators on
« Journal d'audit » (app/lists/audit.py), purged after its own retention by a daily job.

Who and from where come from the request: ``CurrentUserMiddleware`` (app/http/web.py) calls ``bind``
for every HTTP request, so a service records an action without being handed the request. Outside a
request (a job, a cron, the CLI) the actor is « Système ». ``record`` runs on the caller's connection:
inside the action's transaction, the trail and the action commit or roll back together."""

from __future__ import annotations

import contextlib
import json
from contextvars import ContextVar
from dataclasses import dataclass

from app.dates import months_before, now
from app.services.roles import ROLE_LABELS
from app.services.text import search_text
from app.tables.audit import AuditEvent

# The actions the trail records, with their labels (the list's filter and column).
ACTION_LABELS = {
    "role.granted": "Rôle attribué",
    "role.revoked": "Rôle retiré",
    "account.created": "Compte créé",
    "account.edited": "Compte modifié",
    "account.password_reset": "Mot de passe régénéré",
    "account.suspended": "Compte suspendu",
    "account.reactivated": "Compte réactivé",
    "account.deleted": "Compte supprimé",
    "account.deactivated": "Compte désactivé (historique de formation conservé)",
    "account.pseudonymised": "Compte pseudonymisé",
    "attendance.corrected": "Émargement corrigé",
    "certificate.revoked": "Attestation révoquée",
    "data.exported": "Données exportées",
    "settings.changed": "Paramètre modifié",
    "erasure.requested": "Demande de suppression reçue",
    "erasure.handled": "Demande de suppression traitée",
}

SYSTEM = "Système"
VISITOR = "Visiteur non connecté"


@dataclass(frozen=True)
class Actor:
    id: int | None = None
    label: str = SYSTEM
    ip: str = ""


_actor: ContextVar[Actor] = ContextVar("audit_actor", default=Actor())


def bind(user, ip: str) -> object:
    """The actor of what follows in this request: the logged-in user, or a visitor. Returns the token
    ``unbind`` takes."""
    actor = Actor(user.id, user.username, ip) if user is not None else Actor(None, VISITOR, ip)
    return _actor.set(actor)


def unbind(token) -> None:
    _actor.reset(token)


@contextlib.contextmanager
def acting_as(actor: Actor):
    """For a job that acts on someone's behalf (or a test): the actor of what runs inside."""
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> Actor:
    return _actor.get()


def _row(action: str, target_kind: str, target_id: int | None, target_label: str, details: dict | None,
         actor: Actor) -> AuditEvent:
    if action not in ACTION_LABELS:
        raise ValueError(f"unknown audit action {action!r}")
    return AuditEvent(
        actor=actor.id, actor_label=actor.label[:150], action=action, target_kind=target_kind,
        target_id=target_id, target_label=(target_label or "")[:300],
        details=json.dumps(details or {}, ensure_ascii=False, default=str), ip=actor.ip[:64],
        search_text=search_text(actor.label, target_label),
    )


async def record(action: str, target_kind: str = "", target_id: int | None = None, target_label: str = "",
                 details: dict | None = None) -> None:
    """One action of the current actor on one target."""
    await AuditEvent.insert(_row(action, target_kind, target_id, target_label, details, current_actor()))


async def record_many(action: str, targets: list[tuple[str, int | None, str]], details: dict | None = None) -> None:
    """The same action on many targets ((kind, id, label) each), in one INSERT."""
    actor = current_actor()
    if targets:
        await AuditEvent.insert(*(_row(action, kind, target_id, label, details, actor)
                                  for kind, target_id, label in targets))


async def record_selected(action: str, target_kind: str, selected_sql: str, *args, details: dict | None = None) -> None:
    """The same action on every row a query selects — its columns ``id`` and ``label`` (already folded:
    it is searched as is) — in one INSERT … SELECT, never a round trip per row (a job on many rows)."""
    if action not in ACTION_LABELS:
        raise ValueError(f"unknown audit action {action!r}")
    actor = current_actor()
    await AuditEvent.raw(
        "INSERT INTO audit_event (at, actor, actor_label, action, target_kind, target_id, target_label, details, ip, "
        "search_text) SELECT {}, {}, {}, {}, {}, t.id, t.label, {}, {}, {} || t.label FROM (" + selected_sql + ") t",
        now(), actor.id, actor.label[:150], action, target_kind,
        json.dumps(details or {}, ensure_ascii=False, default=str), actor.ip[:64], search_text(actor.label) + " ", *args)


def changed_fields(before: dict, after: dict, fields) -> list[str]:
    """The names of ``fields`` whose value differs (the trail keeps which fields changed, not the values:
    it would otherwise be one more copy of personal data)."""
    return [name for name in fields if before.get(name) != after.get(name)]


async def purge(months: int, today=None) -> int:
    """Delete the rows older than ``months`` (the retention period, app/services/retention/settings.py),
    in one statement. Returns how many went."""
    cutoff = months_before(today or now(), months)
    old = AuditEvent.at < cutoff
    count = await AuditEvent.count().where(old)
    if count:
        await AuditEvent.delete().where(old)
    return count


# How the detail of a row reads (the list and its export).
FIELD_LABELS = {
    "username": "nom d'utilisateur", "first_name": "prénom", "last_name": "nom", "email": "courriel",
    "establishment": "établissement", "status": "statut", "matricule": "matricule", "password": "mot de passe",
    "force_password_change": "changement de mot de passe imposé",
}


OUTCOMES = {"erased": "compte supprimé", "pseudonymised": "compte pseudonymisé, preuves conservées",
            "refused": "refusée"}


def describe(details: str) -> str:
    """A row's ``details`` in French, one short line."""
    try:
        data = json.loads(details or "{}")
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    parts = []
    if data.get("role"):
        parts.append(f"rôle {ROLE_LABELS.get(data['role'], data['role'])}")
    if data.get("fields"):
        parts.append("champs : " + ", ".join(FIELD_LABELS.get(f, f) for f in data["fields"]))
    if "cells" in data:
        parts.append(f"{data['cells']} case(s) de présence")
    if "rows" in data:
        parts.append(f"{data['rows']} ligne(s), format {data.get('format', '')}")
    if data.get("mailed") is not None and "mailed" in data:
        parts.append("envoyé par courriel" if data["mailed"] else "affiché au gestionnaire")
    if data.get("outcome"):
        parts.append(OUTCOMES.get(data["outcome"], data["outcome"]))
    if data.get("reason"):
        parts.append(f"motif : {data['reason']}")
    return " ; ".join(parts)
