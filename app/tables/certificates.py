"""Certificates of training follow-up (« Attestation de suivi de formation », SPEC D3).

A certificate is never deleted nor edited: it states what its frozen `snapshot` says (the learner's
name, the session, its dates, the text), its PDF is rendered again from that snapshot byte for byte
(`pdf_sha256` proves it), and a correction makes a new version: the previous one becomes
`superseded`; a withdrawal marks it `revoked` with a reason and who did it.
"""

from enum import Enum

from piccolo.columns import JSON, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from app.tables.accounts import User
from app.tables.learning import Enrolment


class CertificateKind(str, Enum):
    completion = "completion"  # « Attestation de fin de formation » (the « Attestation de suivi »)
    realisation = "realisation"  # the Ministry of Labour's « Certificat de réalisation » (issue 22)


class CertificateStatus(str, Enum):
    valid = "valid"
    revoked = "revoked"
    superseded = "superseded"


class Certificate(Table):
    enrolment = ForeignKey(references=Enrolment, on_delete=OnDelete.restrict, index=True)
    kind = Varchar(length=16, default=CertificateKind.completion, choices=CertificateKind)
    version = Integer(default=1)
    code = Varchar(length=16, unique=True, index=True)  # verification code, without separators
    issued_at = Timestamptz(default=TimestamptzNow())
    snapshot = JSON(default="{}")  # what the certificate states, frozen at issue
    pdf_sha256 = Varchar(length=64)
    status = Varchar(length=16, default=CertificateStatus.valid, choices=CertificateStatus)
    status_changed_at = Timestamptz(null=True, default=None)
    revoked_reason = Text(default="")
    revoked_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    # Failed renders of its PDF (« échec de génération »): how many, the last reason, when to try again.
    render_attempts = Integer(default=0)
    render_error = Text(default="")
    render_retry_at = Timestamptz(null=True, default=None)

    unique_enrolment_kind_version = Unique(["enrolment", "kind", "version"])
