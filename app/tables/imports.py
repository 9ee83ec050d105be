"""CSV imports of accounts (SPEC A3): a batch per uploaded file, a row per line of it."""

from enum import Enum

from piccolo.columns import Array, Boolean, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.tables.accounts import User
from app.tables.org import Establishment


class BatchStatus(str, Enum):
    analysing = "analysing"  # the file is stored, a job analyses its rows (app/services/imports/upload.py)
    refused = "refused"  # the analysis refused the file (its message in ``error``): nothing to import
    preview = "preview"  # analysed, decisions open
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"  # nothing created (one transaction); it can be run again


class RowStatus(str, Enum):
    ok = "ok"
    problem = "problem"  # importable, with something to check
    error = "error"  # never imported


class RowDecision(str, Enum):
    """Labels in app/services/imports/common.py DECISION_LABELS."""

    create = "create"
    skip = "skip"
    update = "update"  # the password kept
    update_password = "update_password"  # the file's password
    suffix = "suffix"  # batches previewed before suffixes were automatic


class RowOutcome(str, Enum):
    none = ""  # not applied yet
    created = "created"
    updated = "updated"
    skipped = "skipped"
    failed = "failed"


class ImportBatch(Table):
    establishment = ForeignKey(references=Establishment, on_delete=OnDelete.cascade, index=True)
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    filename = Varchar(length=255)
    status = Varchar(length=16, default="preview", choices=BatchStatus)
    total_rows = Integer(default=0)
    created_count = Integer(default=0)
    updated_count = Integer(default=0)
    skipped_count = Integer(default=0)
    failed_count = Integer(default=0)
    error = Text(default="")
    token = Varchar(length=64, default="", index=True)
    created_at = Timestamptz(default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)
    # The SHA-256 of the uploaded file: the same file posted twice at once (a double click) is one batch.
    file_sha256 = Varchar(length=64, default="")


class ImportRow(Table):
    batch = ForeignKey(references=ImportBatch, on_delete=OnDelete.cascade, index=True)
    line = Integer()
    first_name = Varchar(length=100, default="")
    last_name = Varchar(length=100, default="")
    password = Varchar(length=255, default="")
    email = Varchar(length=254, default="")
    matricule = Varchar(length=50, default="")
    cohorts = Text(default="")  # names, one per line
    username = Varchar(length=150, default="")
    status = Varchar(length=16, default="ok", choices=RowStatus)
    problems = Text(default="")  # French messages, one per line
    existing_user = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    existing_in_scope = Boolean(default=False)
    decision = Varchar(length=16, default="create", choices=RowDecision)
    # The decisions this row offers (on SQLite Piccolo stores the list as JSON text).
    allowed = Array(Varchar(length=16), default=[RowDecision.create.value, RowDecision.skip.value])
    outcome = Varchar(length=16, default="", choices=RowOutcome)
    outcome_message = Text(default="")
