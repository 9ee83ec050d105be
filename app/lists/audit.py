"""The administrator's « Journal d'audit » (issue 25): the sensitive actions, newest first."""

from __future__ import annotations

from app.dates import local_naive
from app.datatable import Col, DataTable, Filter
from app.lists import register
from app.lists._common import since, until
from app.services.audit import ACTION_LABELS, describe
from app.services.text import search
from app.tables.audit import AuditEvent

AUDIT = register(
    DataTable(
        name="audit",
        table=AuditEvent,
        select=(AuditEvent.id, AuditEvent.at, AuditEvent.actor_label, AuditEvent.action, AuditEvent.target_kind,
                AuditEvent.target_id, AuditEvent.target_label, AuditEvent.details, AuditEvent.ip),
        columns=(
            Col("at", "Le", AuditEvent.at, export=lambda r: local_naive(r["at"])),
            Col("actor_label", "Par", AuditEvent.actor_label),
            Col("action", "Action", AuditEvent.action, export=lambda r: ACTION_LABELS.get(r["action"], r["action"])),
            Col("target_label", "Sur", export=lambda r: r["target_label"]),
            Col("details", "Détail", export=lambda r: describe(r["details"])),
            Col("ip", "Adresse IP"),
        ),
        filters=(
            Filter("action", "Action", lambda v: AuditEvent.action == v if v in ACTION_LABELS else None, kind="select",
                   options=list(ACTION_LABELS.items())),
            Filter("q", "Auteur ou objet", lambda v: search(AuditEvent.search_text, v)),
            Filter("since", "Depuis le", since(AuditEvent.at), kind="date"),
            Filter("until", "Jusqu'au", until(AuditEvent.at), kind="date"),
        ),
        default_sort="-at",
        export_filename="journal_audit",
    )
)
