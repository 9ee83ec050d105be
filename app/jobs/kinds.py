"""Every background job of Tremplin, declared once (SPEC G1): its name (= the arq function name =
``JobRun.kind``), its deduplication key, its tries, its timeout, whether it is durable — and no
function: the worker binds each name to its function and give-up hook in one place
(app/jobs/worker.py ``BOUND``). Services import this module at the top and submit through the
declarations (``await kinds.IMPORT_ACCOUNTS.submit(redis, batch_id)``), never by a string; it
imports only the job machinery (app/jobs/durable.py), so it drags no job and no service along.

Mail sends are not tracked as runs: a mail is already its own durable outbox row (``Mail``: status,
tries, backoff, last error, and the outbox sweep), written in the caller's transaction; a JobRun per
mail would double the writes of the largest volume (an import's credentials) and keep a second,
disagreeing retry count. The dashboard reads the outbox from ``Mail``. The job that sends an
import's mails as a group is a durable run like the import itself.
"""

from __future__ import annotations

from app.jobs.durable import JobKind

HOUR = 3600

# -- tracked and durable: a JobRun in the caller's transaction, swept while it waits ---------------
# An uploaded file's rows analysed for the preview, off the web process (one run per batch).
IMPORT_ANALYSIS = JobKind("analyse_import", key=lambda batch_id, file_id: f"import-analysis:{batch_id}", timeout=HOUR)
IMPORT_ACCOUNTS = JobKind("import_accounts", key=lambda batch_id: f"import:{batch_id}", timeout=HOUR)
IMPORT_MAILS = JobKind("send_mail_group", key=lambda group_key: f"mails:{group_key}", timeout=HOUR)
CONTENT_IMPORT = JobKind("import_session_content", key=lambda import_id: f"content-import:{import_id}", timeout=600)
REQUEST_NOTIFICATIONS = JobKind("send_request_notifications", key=lambda request_id: f"request-notify:{request_id}",
                                timeout=300)
# A cohort is synced as often as its members change: every request is a run (no key).
COHORT_SYNC = JobKind("sync_cohort", timeout=900)
# Results somebody waits for (app/jobs/results.py); the progress token is their key. The URL of the
# result is no argument: the controller writes it into the progress from a route name.
CERTIFICATES_ZIP = JobKind("build_certificates_zip",
                           key=lambda session_id, user_id, token: f"certificates-zip:{token}",
                           timeout=HOUR)
# « Mes données » (issue 25): everything about the person who asked, as a ZIP (app/jobs/my_data.py).
MY_DATA = JobKind("export_my_data", key=lambda user_id, token: f"my-data:{token}", timeout=HOUR)
# A session's attendance sheet too large to lay out in the request (app/services/attendance.py).
ATTENDANCE_SHEET = JobKind("build_attendance_sheet",
                           key=lambda session_id, user_id, token: f"attendance-sheet:{token}",
                           timeout=HOUR)
# The signed attendance sheet of a slot just closed (issue 22, app/services/signing/sheet.py): one run
# per slot; a sheet its run did not seal is rendered and kept by its first download or verification.
SLOT_SHEET = JobKind("seal_slot_sheet", key=lambda slot_id: f"slot-sheet:{slot_id}", timeout=600)
# The daily retention of personal data (issue 25, app/jobs/retention.py): one run per day, its report
# as its result; a run lost or failed is handed over again by the sweep, and done again safely.
RETENTION = JobKind("apply_retention", key=lambda day: f"retention:{day}", timeout=HOUR)

# -- tracked, not durable: somebody waits for it now; after a failure they ask again --------------
EXPORT_TABLE = JobKind("export_table", durable=False, max_tries=1, timeout=HOUR)
# The BPF and the élus' report of a year (issue 23, app/jobs/bpf.py): figures kept in YearReport.
BPF_YEAR = JobKind("compute_year_reports", durable=False, max_tries=1, timeout=HOUR)

# -- untracked: the outbox row is the durable record (see above) -----------------------------------
SEND_MAIL = JobKind("send_mail", durable=False, tracked=False, max_tries=3, timeout=300)
# Rendering and hashing certificates issued many at once: an unsealed certificate is sealed on its
# first download or verification anyway, and by the seal_unsealed_certificates cron after a minute,
# so a lost job loses nothing.
SEAL_CERTIFICATES = JobKind("seal_certificates", durable=False, tracked=False, timeout=HOUR)
# Like mail, convocations are their own durable rows (ConvocationNotice: pending / building / built,
# claimed in batches, swept every minute): the build job is a plain arq job over them.
CONVOCATIONS = JobKind("build_convocations", durable=False, tracked=False, timeout=HOUR)
CONVOCATION_REMINDERS = JobKind("send_convocation_reminders", durable=False, tracked=False, timeout=HOUR)

# Every kind above, by name.
KINDS: dict[str, JobKind] = {kind.name: kind for kind in globals().values() if isinstance(kind, JobKind)}
