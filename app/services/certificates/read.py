"""Certificates: lists, a learner's and a manager's download, and the public verification."""

from __future__ import annotations

import hashlib
import logging
import secrets

from app.services.errors import NotFound
from app.services.roles import CurrentUser
from app.services.scope import check_in_scope, establishment_scope
from app.tables.certificates import Certificate, CertificateStatus
from app.tables.learning import Enrolment
from app.services.certificates.common import KIND_LABELS, NOT_FOUND, STATUS_LABELS, display_code, normalize_code
from app.services.certificates.issue import UNSEALED, issue_for_enrolments
from app.services.certificates.realisation import CANDIDATE_SQL
from app.services.certificates.render import _load, render
from app.services.certificates.seal import NotRendered, _record_failures, _store_hashes, failure_reason, given_up, seal_now


# -- reading -------------------------------------------------------------------------------------
_COLUMNS = (
    Certificate.id, Certificate.enrolment, Certificate.kind, Certificate.version, Certificate.code, Certificate.issued_at,
    Certificate.status, Certificate.status_changed_at, Certificate.revoked_reason, Certificate.pdf_sha256,
    Certificate.snapshot, Certificate.render_attempts, Certificate.render_error,
    Certificate.enrolment.session.as_alias("session"),
    Certificate.enrolment.user.as_alias("user"),
    Certificate.enrolment.session.establishment.as_alias("establishment"),
)


def _shape(row: dict) -> dict:
    row = dict(row)
    row["snapshot"] = _load(row["snapshot"])
    row["display_code"] = display_code(row["code"])
    row["status_label"] = STATUS_LABELS[row["status"]]
    row["kind_label"] = KIND_LABELS[row["kind"]]
    row["filename"] = filename(row)
    # « Échec de génération »: only said of a valid one (a replaced or revoked one is not handed out).
    row["render_failed"] = row["status"] == CertificateStatus.valid and row["pdf_sha256"] == UNSEALED \
        and bool(row.get("render_error"))
    row["render_given_up"] = row["render_failed"] and given_up(row)
    return row


def filename(row: dict) -> str:
    snap = _load(row["snapshot"])
    name = "".join(c if c.isalnum() else "-" for c in f"{snap['nom']}-{snap['prenom']}").strip("-")
    prefix = "certificat-realisation" if row.get("kind") == "realisation" else "attestation"
    return f"{prefix}-{snap['session_code']}-{name}-v{row['version']}.pdf"


async def for_enrolment(enrolment_id: int, kind: str = "completion") -> dict | None:
    """The enrolment's current certificate of this kind (its latest version), issuing it first if it
    is due and the enrolment has none. None before. For the managers' overview (« Afficher le
    Certificat »)."""
    return (await for_enrolment_kinds(enrolment_id)).get(kind)


async def for_enrolment_kinds(enrolment_id: int) -> dict[str, dict]:
    """{kind: the latest version of that kind} for an enrolment, issuing what is due first (one query
    to read). For the learner's page (partial certificates/_learner.html)."""
    await issue_for_enrolments([enrolment_id])
    rows = await Certificate.select(*_COLUMNS).where(Certificate.enrolment == enrolment_id).order_by(
        Certificate.version, ascending=False)
    latest: dict[str, dict] = {}
    for row in rows:  # newest first: shape (and JSON-load) only the latest of each kind
        if row["kind"] not in latest:
            latest[row["kind"]] = _shape(row)
    return latest


async def for_session(session_id: int) -> list[dict]:
    """Every version of every certificate of a session, by learner then newest first (one query)."""
    await issue_for_session(session_id)
    rows = await Certificate.select(*_COLUMNS).where(Certificate.enrolment.session == session_id).order_by(
        Certificate.enrolment.user.last_name_key).order_by(Certificate.enrolment.user.first_name_key).order_by(
        Certificate.enrolment).order_by(Certificate.kind).order_by(Certificate.version, ascending=False)
    return [_shape(r) for r in rows]


async def issue_for_session(session_id: int) -> int:
    """Completed enrolments of a session that have no attestation yet (completed by a change of the
    session's activities rather than by a completion), and those with hours attended and no
    certificat de réalisation (e.g. the provider was set since): issued idempotently on first request."""
    rows = await Enrolment.raw(
        "SELECT e.id FROM enrolment e WHERE e.session = {} AND ((e.completed_at IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM certificate c WHERE c.enrolment = e.id AND c.kind = 'completion')) "
        f"OR ({CANDIDATE_SQL}))", int(session_id))
    return await issue_for_enrolments([r["id"] for r in rows])


async def in_scope(user: CurrentUser, certificate_id: int) -> dict:
    """A certificate a manager may see: missing and out of scope answer the same."""
    row = await Certificate.select(*_COLUMNS).where(Certificate.id == certificate_id).first()
    return _shape(check_in_scope(await establishment_scope(user), row, NOT_FOUND))


async def learner_certificate(user: CurrentUser, session_id: int, kind: str = "completion") -> dict:
    """The learner's own valid certificate of this kind for a session; anything else is « introuvable ». Also
    once they are no longer enrolled: a certificate attests training actually completed, which
    unenrolment does not undo (their record is kept, and the certificate stays valid when verified)."""
    enrolment = await Enrolment.select(Enrolment.id).where(
        (Enrolment.session == session_id) & (Enrolment.user == user.id)).first()
    certificate = await for_enrolment(enrolment["id"], kind) if enrolment else None
    if certificate is None or certificate["status"] != CertificateStatus.valid:
        raise NotFound(NOT_FOUND)
    return certificate


async def pdf_of(certificate: dict) -> bytes:
    """The certificate's PDF; an unsealed one gets its hash stored now (same bytes as any later render).
    One whose generation failed (given up) is not rendered again on demand: a French message says so;
    a render failing now is recorded and says so too."""
    if certificate["pdf_sha256"] == UNSEALED and given_up(certificate):
        raise NotRendered(certificate["render_error"])
    try:
        pdf = await render(certificate["snapshot"])
    except Exception as error:  # noqa: BLE001 - recorded and said in French, never a 500
        if certificate["pdf_sha256"] != UNSEALED:
            raise
        reason = failure_reason(error)
        logging.getLogger(__name__).warning("certificate %s: its PDF could not be rendered: %s", certificate["id"], reason)
        await _record_failures({certificate["id"]: reason})
        raise NotRendered(reason) from None
    if certificate["pdf_sha256"] == UNSEALED:
        certificate["pdf_sha256"] = hashlib.sha256(pdf).hexdigest()
        await _store_hashes({certificate["id"]: certificate["pdf_sha256"]})
    return pdf


# -- public verification -------------------------------------------------------------------------
async def verify(typed_code: str) -> dict | None:
    """What the public page shows for a code, and nothing else; None for unknown or malformed."""
    code = normalize_code(typed_code)
    if code is None:
        return None
    row = await Certificate.select(Certificate.code, Certificate.kind, Certificate.status, Certificate.snapshot,
                                   Certificate.pdf_sha256, Certificate.enrolment).where(Certificate.code == code).first()
    if row is None:
        return None
    if row["pdf_sha256"] == UNSEALED:  # not rendered yet: its hash now, for the upload check
        await seal_now([row["enrolment"]])
        row["pdf_sha256"] = (await Certificate.select(Certificate.pdf_sha256).where(
            Certificate.code == code).first())["pdf_sha256"]
    snap = _load(row["snapshot"])
    return {
        "code": display_code(code), "status": row["status"], "status_label": STATUS_LABELS[row["status"]],
        "name": " ".join(p for p in (snap["civilite"], snap["prenom"], snap["nom"]) if p),
        "session": snap["session"], "start": snap["date_debut"], "end": snap["date_fin"],
        "issued": snap["date_delivrance"], "pdf_sha256": row["pdf_sha256"],
        "kind": row["kind"], "kind_label": KIND_LABELS[row["kind"]],
        "hours": (snap.get("heures_realisees"), snap.get("heures_prevues"), snap.get("taux"))
        if row["kind"] == "realisation" else None,
    }


def pdf_matches(found: dict, content: bytes) -> bool:
    return secrets.compare_digest(hashlib.sha256(content).hexdigest(), found["pdf_sha256"])
