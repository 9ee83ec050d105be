"""The audit trail (issue 25): who did a sensitive action, when, on what, from where.

One row per action, written in the action's own transaction where it has one. ``actor`` is null for
the system (a job, a cron) or a visitor who is not logged in; ``actor_label`` keeps the username the
actor had then (a deleted or pseudonymised account's rows still say who). ``details`` is JSON: the
names of the fields changed, counts, reasons — never a password. Kept for the retention period of
the setting ``retention_audit_months`` (a daily job deletes older rows)."""

from piccolo.columns import BigInt, BigSerial, ForeignKey, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.tables.accounts import User


class AuditEvent(Table):
    id = BigSerial(primary_key=True)
    at = Timestamptz(default=TimestamptzNow(), index=True)
    actor = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null, index=True)
    actor_label = Varchar(length=150, default="")
    # A key of app/services/audit.py ACTION_LABELS, e.g. "role.granted".
    action = Varchar(length=48, default="", index=True)
    # What was acted on: a table's kind ("user", "certificate", "setting"…), its id and a label
    # readable after the row is gone.
    target_kind = Varchar(length=32, default="")
    target_id = BigInt(null=True, default=None, index=True)
    target_label = Varchar(length=300, default="")
    details = Text(default="{}")
    ip = Varchar(length=64, default="")
    # Folded actor and target labels: the list's search (app/services/text.py ``search``).
    search_text = Text(default="")
