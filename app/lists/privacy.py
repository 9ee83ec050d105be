"""The administrator's queue of erasure requests (issue 25), pending first, oldest first."""

from __future__ import annotations

from app.dates import local_naive
from app.datatable import Col, DataTable, Filter
from app.lists import register
from app.services.retention.erasure import STATUS_LABELS
from app.tables.privacy import ErasureRequest

ERASURE_REQUESTS = register(
    DataTable(
        name="erasure_requests",
        table=ErasureRequest,
        select=(ErasureRequest.id, ErasureRequest.requested_at, ErasureRequest.person_label, ErasureRequest.status,
                ErasureRequest.handled_at),
        columns=(
            Col("requested_at", "Reçue le", ErasureRequest.requested_at, export=lambda r: local_naive(r["requested_at"])),
            Col("person_label", "Personne", ErasureRequest.person_label),
            Col("status", "État", ErasureRequest.status, export=lambda r: STATUS_LABELS.get(r["status"], r["status"])),
            Col("handled_at", "Traitée le", ErasureRequest.handled_at,
                export=lambda r: local_naive(r["handled_at"]) if r["handled_at"] else ""),
        ),
        filters=(
            Filter("status", "État", lambda v: ErasureRequest.status == v if v in STATUS_LABELS else None,
                   kind="select", options=[(k.value, v) for k, v in STATUS_LABELS.items()]),
        ),
        default_sort="requested_at",
        export_filename="demandes_suppression",
    )
)
