"""Certificates: revocation, new versions, and the mail to the learner."""

from __future__ import annotations


from app import db
from app.dates import now
from app.services import audit
from app.services.accounts import is_fictitious
from app.services.errors import ValidationFailed
from app.services.outbox import Attachment, queue_mail
from app.services.roles import CurrentUser
from app.tables.accounts import User
from app.tables.certificates import Certificate, CertificateStatus
from app.tables.outbox import Mail
from app.services.certificates.provider import MISSING, load as load_provider, ready as provider_ready
from app.services.certificates.realisation import KIND as REALISATION, NO_HOURS, issuable
from app.services.certificates.common import JUST_SENT, RESEND_AFTER
from app.services.certificates.issue import NOT_DUE, _due, _insert, _new_rows
from app.services.certificates.read import for_enrolment, in_scope, pdf_of
from app.services.certificates.render import _facts
from app.services.certificates.seal import seal


# -- revocation and new versions -------------------------------------------------------------------
async def revoke(user: CurrentUser, certificate_id: int, reason: str) -> dict:
    certificate = await in_scope(user, certificate_id)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": "Indiquez le motif de la révocation (il est conservé)."})
    if len(reason) > 500:
        raise ValidationFailed({"reason": "Le motif ne peut pas dépasser 500 caractères."})
    async with db.transaction():
        changed = await Certificate.update({
            Certificate.status: CertificateStatus.revoked, Certificate.revoked_reason: reason,
            Certificate.revoked_by: user.id, Certificate.status_changed_at: now(),
        }).where((Certificate.id == certificate_id) & (Certificate.status == CertificateStatus.valid)).returning(
            Certificate.id)
        if not changed:
            raise ValidationFailed({"reason": "Seule une attestation valide peut être révoquée."})
        await audit.record("certificate.revoked", "certificate", certificate_id,
                           f"{certificate['code']} v{certificate['version']}",
                           {"kind": certificate["kind"], "reason": reason})
    return certificate


async def reissue(user: CurrentUser, certificate_id: int) -> dict:
    """A new version from today's facts (e.g. a corrected name, corrected attendance); the valid one of
    the same kind becomes superseded. Only from the latest version of its kind, and only while today's
    rule still gives one: an attestation needs the enrolment complete, a certificat de réalisation
    hours attended and the provider set; both, the session's last slot ended and attendance recorded."""
    certificate = await in_scope(user, certificate_id)
    enrolment_id, kind = certificate["enrolment"], certificate["kind"]
    async with db.transaction():
        latest = await Certificate.select(Certificate.id, Certificate.version).where(
            (Certificate.enrolment == enrolment_id) & (Certificate.kind == kind)).order_by(
            Certificate.version, ascending=False).first()
        if latest["id"] != certificate_id:
            raise ValidationFailed({"version": "Une version plus récente existe : réémettez depuis celle-ci."})
        facts = (await _facts([enrolment_id])).get(enrolment_id)
        provider = await _reissue_checks(kind, facts)
        if not await _due([enrolment_id]):  # a re-issue applies today's rule (issue 20)
            raise ValidationFailed({"version": NOT_DUE})
        await Certificate.update({Certificate.status: CertificateStatus.superseded,
                                  Certificate.status_changed_at: now()}).where(
            (Certificate.enrolment == enrolment_id) & (Certificate.kind == kind)
            & (Certificate.status == CertificateStatus.valid))
        rows = _new_rows({enrolment_id: facts}, {enrolment_id: latest["version"] + 1}, provider)
        if not await _insert(rows):
            raise ValidationFailed({"version": "L'attestation vient d'être modifiée : rechargez la page."})
    await seal([enrolment_id])
    return await for_enrolment(enrolment_id, kind)


async def _reissue_checks(kind: str, facts: dict | None) -> dict | None:
    """What a new version of this kind needs today; the provider for a certificat de réalisation."""
    if kind != REALISATION:
        if facts is None or facts["completed_at"] is None:
            raise ValidationFailed({"version": "L'inscription n'est plus achevée : pas de nouvelle attestation."})
        return None
    provider = await load_provider()
    if not provider_ready(provider):
        raise ValidationFailed({"version": MISSING})
    if facts is None or not issuable(facts):
        raise ValidationFailed({"version": NO_HOURS})
    return provider


# -- mail ----------------------------------------------------------------------------------------
def mail_words(kind: str, snapshot: dict) -> tuple[str, str, str]:
    """(what the document is, « Il/Elle peut être vérifié(e) », the subject) as its PDF is titled: the
    certificat de réalisation; the attestation de fin de formation from layout 4 (issue 22), the
    attestation de suivi de formation before."""
    if kind == REALISATION:
        return "certificat de réalisation", "Il peut être vérifié", "Votre certificat de réalisation"
    if snapshot.get("layout", 1) >= 4:
        return "attestation de fin de formation", "Elle peut être vérifiée", "Votre attestation de fin de formation"
    return "attestation de suivi", "Elle peut être vérifiée", "Votre attestation de suivi de formation"


async def mail_to_learner(user: CurrentUser, certificate_id: int) -> int:
    """Queue the certificate for its learner through the outbox (PDF attached)."""
    certificate = await in_scope(user, certificate_id)
    realisation = certificate["kind"] == REALISATION
    if certificate["status"] != CertificateStatus.valid:
        raise ValidationFailed({"mail": "Seul un certificat valide peut être envoyé." if realisation
                                else "Seule une attestation valide peut être envoyée."})
    learner = await User.select(User.email).where(User.id == certificate["user"]).first()
    if is_fictitious(learner["email"]):  # the outbox would never send it: say so instead of « envoyée »
        handed = "le certificat et remettez-le-lui" if realisation else "l'attestation et remettez-la-lui"
        raise ValidationFailed({"mail": "Cet apprenant n'a pas d'adresse électronique (adresse fictive) : "
                                        f"téléchargez {handed}."})
    snap = certificate["snapshot"]
    what, pronoun, subject = mail_words(certificate["kind"], snap)
    body = (f"Bonjour {snap['prenom']} {snap['nom']},\n\nVous trouverez ci-joint votre {what} "
            f"de la formation « {snap['session']} ».\n{pronoun} à tout moment avec le code "
            f"{snap['code']} : {snap['verify_url']}\n\nL'équipe Tremplin\n")
    key = f"certificate:{certificate_id}"
    # Only a mail to the learner's current address counts: after a corrected address, sending again is the point.
    recently = (Mail.group_key == key) & (Mail.category == "certificate") \
        & (Mail.created_at > now() - RESEND_AFTER) & (Mail.status != "failed") \
        & (Mail.intended_recipients == learner["email"].strip())
    if await Mail.exists().where(recently):  # the usual second click: refused before any rendering
        raise ValidationFailed({"mail": JUST_SENT})
    pdf = await pdf_of(certificate)
    async with db.write_transaction():
        # A double click, or a second tab, mails it once: the certificate's row is locked while the
        # recent mails of it are read (SQLite: the write transaction runs alone).
        if not db.is_sqlite():
            await Certificate.raw("SELECT id FROM certificate WHERE id = {} FOR UPDATE", certificate_id)
        if await Mail.exists().where(recently):  # two at once: the lock lets one through
            raise ValidationFailed({"mail": JUST_SENT})
        return await queue_mail(learner["email"], subject, body,
                                attachments=[Attachment(certificate["filename"], "application/pdf", pdf)],
                                category="certificate", group_key=key)
