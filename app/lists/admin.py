"""The administrator's lists: delegations, establishments, role assignments."""

from __future__ import annotations

from app.datatable import Col, DataTable, Filter
from app.lists import register
from app.lists._common import int_or_none
from app.services.roles import ROLE_LABELS
from app.services.scope import delegation_choices
from app.services.text import search
from app.tables.accounts import RoleAssignment
from app.tables.org import Delegation, Establishment

DELEGATIONS = register(
    DataTable(
        name="delegations",
        table=Delegation,
        select=(Delegation.id, Delegation.code, Delegation.name),
        columns=(Col("code", "Code", Delegation.code), Col("name", "Nom", Delegation.name)),
        filters=(Filter("q", "Code ou nom", lambda v: search(Delegation.search_text, v)),),
        default_sort="code",
        export_filename="delegations",
    )
)

ESTABLISHMENTS = register(
    DataTable(
        name="establishments",
        table=Establishment,
        select=(
            Establishment.id,
            Establishment.code,
            Establishment.name,
            Establishment.delegation.code.as_alias("delegation_code"),
            Establishment.delegation.name.as_alias("delegation_name"),
        ),
        columns=(
            Col("code", "Code", Establishment.code),
            Col("name", "Nom", Establishment.name),
            Col("delegation_code", "Délégation", Establishment.delegation.code),
        ),
        filters=(
            Filter("q", "Code ou nom", lambda v: search(Establishment.search_text, v)),
            Filter("delegation", "Délégation",
                   lambda v: Establishment.delegation == int_or_none(v) if int_or_none(v) else None,
                   kind="select", options=delegation_choices),
        ),
        default_sort="code",
        scope_column=Establishment.id,
        export_filename="etablissements",
    )
)

ROLES = register(
    DataTable(
        name="roles",
        table=RoleAssignment,
        select=(
            RoleAssignment.id,
            RoleAssignment.role,
            RoleAssignment.user.username.as_alias("username"),
            RoleAssignment.user.first_name.as_alias("first_name"),
            RoleAssignment.user.last_name.as_alias("last_name"),
            RoleAssignment.delegation.code.as_alias("delegation_code"),
            RoleAssignment.establishment.code.as_alias("establishment_code"),
            RoleAssignment.establishment.name.as_alias("establishment_name"),
            RoleAssignment.created_at,
        ),
        columns=(
            Col("last_name", "Nom", RoleAssignment.user.last_name_key,
                export=lambda r: f"{r['first_name']} {r['last_name']}"),
            Col("username", "Nom d'utilisateur", RoleAssignment.user.username),
            Col("role", "Rôle", RoleAssignment.role, export=lambda r: ROLE_LABELS.get(r["role"], r["role"])),
            Col("scope", "Périmètre",
                export=lambda r: r["establishment_code"] or r["delegation_code"] or "Plateforme"),
        ),
        filters=(
            Filter("q", "Nom ou nom d'utilisateur", lambda v: search(RoleAssignment.user.search_text, v)),
            Filter("role", "Rôle", lambda v: RoleAssignment.role == v if v in ROLE_LABELS else None, kind="select",
                   options=list(ROLE_LABELS.items())),
        ),
        default_sort="last_name",
        # A GED sees the assignments on the establishments of their delegation only.
        scope_column=RoleAssignment.establishment,
        export_filename="roles",
    )
)
