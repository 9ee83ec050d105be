"""Training evidence (issue 22, SPEC X3): who trains a session and its slots, every attendance
record as it was made (append-only: a learner's signature, a trainer's mark, a manager's correction),
and the trainer's closing of a slot, after which its records are frozen.

``Attendance`` (app/tables/learning.py) stays the current state per enrolment and slot, which the
grid, the hours attended and the certificates read; it is written only together with the
``AttendanceRecord`` it points to, in one transaction, so the records are the one source of truth
and ``Attendance`` their latest word.
"""

from enum import Enum

from piccolo.columns import JSON, BigSerial, Boolean, ForeignKey, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from app.tables.accounts import User
from app.tables.catalogue import SessionSlot, TrainingSession
from app.tables.files import StoredFile
from app.tables.learning import Enrolment


class SessionTrainer(Table):
    """A « Formateur » of a session: sees that session only (participants, practical information,
    the attendance of their slots, the discussion)."""

    session = ForeignKey(references=TrainingSession, on_delete=OnDelete.restrict, index=True)
    user = ForeignKey(references=User, on_delete=OnDelete.restrict, index=True)
    added_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    added_at = Timestamptz(default=TimestamptzNow())

    unique_session_trainer = Unique(["session", "user"])


class SlotTrainer(Table):
    """Who trains one slot. A slot without any row here is trained by all the session's trainers."""

    slot = ForeignKey(references=SessionSlot, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(references=User, on_delete=OnDelete.restrict, index=True)

    unique_slot_trainer = Unique(["slot", "user"])


class RecordStatus(str, Enum):
    present = "present"
    absent = "absent"
    excused = "excused"
    cleared = "cleared"  # a manager emptied the cell of a slot not yet closed


class RecordMethod(str, Enum):
    qr = "qr"  # the learner scanned the slot's rotating QR code
    link = "link"  # the learner followed « Signer ma présence » from their home page
    trainer = "trainer"  # marked by the trainer (no phone), or « Excusé » with a reason
    manager = "manager"  # the « Présences » grid, before the slot was closed
    closing = "closing"  # absent: had not signed when the trainer closed the slot
    correction = "correction"  # a manager's correction after closing, with its reason


class AttendanceRecord(Table):
    """One attendance event, never edited nor deleted: the evidence (who, when, for which slot, how)."""

    id = BigSerial(primary_key=True)
    enrolment = ForeignKey(references=Enrolment, on_delete=OnDelete.restrict, index=True)
    slot = ForeignKey(references=SessionSlot, on_delete=OnDelete.restrict, index=True)
    status = Varchar(length=16, choices=RecordStatus)
    method = Varchar(length=16, choices=RecordMethod)
    recorded_at = Timestamptz(default=TimestamptzNow())  # server time
    recorded_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    signature = Text(default="")  # the drawn signature: a PNG, base64 (no "data:" prefix); "" if none
    client_hash = Varchar(length=64, default="")  # SHA-256 of the user agent and address, keyed
    reason = Text(default="")  # of an excuse or a correction


class SlotClosure(Table):
    """The trainer's countersignature of a slot (« Je certifie l'exactitude »): from then on its records
    are frozen and a correction is a new record with a reason. ``snapshot`` is what the signed sheet
    states (app/services/signing/), ``records_sha256`` the SHA-256 of its canonical JSON, printed on the
    sheet; ``code`` verifies the sheet without an account like a certificate's; ``pdf_sha256`` and
    ``file`` are the sheet's PDF once rendered."""

    slot = ForeignKey(references=SessionSlot, on_delete=OnDelete.restrict, unique=True, index=True)
    closed_at = Timestamptz(default=TimestamptzNow())
    closed_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    countersignature = Text(default="")  # PNG, base64, as AttendanceRecord.signature
    certified = Boolean(default=True)
    snapshot = JSON(default="{}")
    records_sha256 = Varchar(length=64)
    code = Varchar(length=16, unique=True, index=True)
    pdf_sha256 = Varchar(length=64, default="")
    file = ForeignKey(references=StoredFile, null=True, on_delete=OnDelete.set_null)
