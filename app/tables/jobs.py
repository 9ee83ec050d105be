"""Background jobs as the database knows them (SPEC G1, G2).

``JobRun`` is the outbox row of a durable job: written in the caller's transaction with the work it
stands for, enqueued on arq after the commit, updated by the job's start/end hooks, re-enqueued by a
sweep while it still waits. It is also the history the operations dashboard reads (30 days kept).
``JobAction`` records every operator action on runs (retry, retry of a filtered set, abort).
"""

from enum import Enum

from piccolo.columns import BigSerial, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.tables.accounts import User


class JobStatus(str, Enum):
    queued = "queued"        # written; waiting for a worker (or for the sweep to enqueue it again)
    deferred = "deferred"    # waiting for its run_at (a retry with backoff, a scheduled job)
    running = "running"
    succeeded = "succeeded"
    failed = "failed"        # every try used, or failed without retry
    aborted = "aborted"      # an operator aborted it


class JobActionKind(str, Enum):
    """Labels in app/services/ops/common.py ACTION_LABELS."""

    retry = "retry"
    retry_all = "retry_all"  # written by older versions: one row for a filtered set (``run`` null)
    abort = "abort"


class JobRun(Table):
    id = BigSerial(primary_key=True)
    # The job kind's declared name (app/jobs/kinds.py), e.g. "import_accounts".
    kind = Varchar(length=64, index=True)
    # Deduplication key: one run per key ("import:42"); also the base of arq's job id.
    job_key = Varchar(length=200, unique=True)
    # The job's arguments as JSON (ids, tokens). Shown to operators only through redaction.
    args = Text(default="[]")
    status = Varchar(length=16, default=JobStatus.queued, choices=JobStatus, index=True)
    tries = Integer(default=0)
    max_tries = Integer(default=3)
    # When it may run (deferred runs), when it was last handed to arq, started, finished.
    run_at = Timestamptz(null=True, default=None)
    enqueued_at = Timestamptz(null=True, default=None)
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None, index=True)
    # While it runs: when its worker last said it was alive (every few seconds); the job sweep hands
    # the run over when this stops for ``JOBS_WORKER_DEAD_AFTER`` seconds (the worker died).
    heartbeat_at = Timestamptz(null=True, default=None)
    # Which worker ran it last (arq's worker id / host:pid).
    worker = Varchar(length=200, default="")
    # A short summary of the result, and the redacted traceback of the last failure.
    result = Text(default="")
    error = Text(default="")
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)


class JobAction(Table):
    id = BigSerial(primary_key=True)
    # The run acted on; null for an action on a filtered set (then ``detail`` holds the filter and count).
    run = ForeignKey(references=JobRun, null=True, on_delete=OnDelete.set_null, index=True)
    action = Varchar(length=32, choices=JobActionKind)
    actor = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    detail = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
