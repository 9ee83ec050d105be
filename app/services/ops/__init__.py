"""The operations dashboard (SPEC G2): what the background work is doing, and the operator's actions.

Read from the durable record (``JobRun``: queued, running, failed runs, durations), from arq's own
Redis keys (the queue, the workers' health check), the cron jobs' notes (app/jobs/worker.py
``cron_status``) and the mail outbox. Acting on runs goes through the job layer
(app/jobs/durable.py ``retry`` and ``abort``: set-based, one JobAction per run, arq told).
What an operator reads of a run goes through the job layer's redaction, then the stricter patterns
below (a token with no digit, a signed link of a small payload).

Where: ``common.py`` statuses, labels, redaction and the small formatting helpers;
``overview.py`` the dashboard's figures; ``runs.py`` per-kind statistics, one run, retry and
abort; ``metrics.py`` the Prometheus text.
"""

from app.services.ops.common import (  # noqa: F401
    ABORTABLE,
    ACTION_LABELS,
    ADMIN_ONLY,
    KIND_LABELS,
    MAIL_STATUSES,
    MASK,
    RETRYABLE,
    STATUS_LABELS,
    duration_fr,
    kind_label,
    redact,
    retryable,
)
from app.services.ops.metrics import (  # noqa: F401
    metrics_text,
)
from app.services.ops.overview import (  # noqa: F401
    overview,
)
from app.services.ops.runs import (  # noqa: F401
    abort_run,
    kind_stats_cached,
    retry_matching,
    retry_runs,
    run_detail,
)
from app.services.ops.overview import _run_counts, _workers_seen, crons, mail_summary  # noqa: F401 (bench/bench_ops_dashboard.py)
from app.services.ops.runs import kind_stats  # noqa: F401
