"""Convocations and calendar invitations (issue 12, SPEC X2).

What happens, and where:
- Every change that concerns a learner's invitation writes a ``ConvocationNotice`` in its own
  transaction, set-based (one INSERT … SELECT whatever the number): enrolment by any way
  (`enrolments.add_sources`, the cohort sync) → a convocation; losing the last way of enrolment → a
  cancellation; a change of the session's slots, place or dates → an update; the session cancelled →
  a cancellation; « Envoyer les convocations » → a convocation; the D-7 / D-1 cron → a reminder.
- A job (`build_pending`, one per session and batch) renders the PDF and the ``.ics`` of each
  notice and writes the outbox mails with their attachments; the outbox sends them. A 500-learner
  cohort is queued in milliseconds; its PDFs are rendered in the background.
- What a notice says is decided when its mail is built, from the facts of that moment: a learner
  unenrolled meanwhile gets no convocation, one enrolled again gets no cancellation.
- One convocation per enrolment and SEQUENCE (the notice's unique ``dedup_key``, inserted with ON
  CONFLICT DO NOTHING): a second click, a second tab or a race mails nobody twice.
- A notice is built at most MAX_ATTEMPTS times (a failed build waits 2, 4, 8, 16 minutes, then the
  sweep hands it back); then it is ``failed``: on /ops, and on the session's convocation page
  (`failures`, with the mails the outbox gave up on), where « Envoyer les convocations » retries it.

Invitations (RFC 5545 / 5546, the icalendar library): one VEVENT per time slot, all under the
enrolment's UIDs ``convocation-<enrolment>-<n>@host`` (n = the slot's rank), so a client shows the
half-days as they are — a two-day session is not a 33-hour block — and every event is updated in
place. One SEQUENCE per enrolment (``Enrolment.invitation_sequence``), raised for every enrolment of
the session when its slots, place or dates change (one UPDATE), when the learner is unenrolled and
when they are enrolled again; a session without slots gets one all-day event over its dates.
A slot that disappears is cancelled by a second attachment (METHOD:CANCEL): a calendar object has
one METHOD. Times are Europe/Paris wall-clock times (TZID with its VTIMEZONE).

Sessions mail their convocations automatically unless their setting « Envoyer les convocations
automatiquement » is off (then the manager sends them with the button); updates, cancellations and
reminders go to whoever was convoked, whatever the setting.

Where: ``common.py`` the shared limits and SQL pieces; ``notices.py`` the notices written in the
caller's transaction; ``facts.py`` what a notice says, read when its mail is built; ``build.py``
the job that turns notices into mails; ``documents.py`` the PDF, the invitation and the mail
text; ``downloads.py`` what learners and managers download and see.
"""

from app.services.convocations.build import (  # noqa: F401
    CRASHED,
    build_pending,
    dispatch_pending,
    request_build,
    sweep,
)
from app.services.convocations.common import (  # noqa: F401
    GROUP_WINDOW,
    MAX_ATTEMPTS,
    TEMPLATE,
)
from app.services.convocations.documents import (  # noqa: F401
    ics_filename,
    invitation_ics,
    mail_text,
    pdf_context,
    pdf_filename,
    practical,
    render_pdf,
)
from app.services.convocations.downloads import (  # noqa: F401
    FAILED_CANDIDATES,
    FAILED_FROM,
    FAILED_WHERE,
    KIND_LABELS,
    for_learner,
    for_manager,
    summary,
)
from app.services.convocations.facts import (  # noqa: F401
    facts,
)
from app.services.convocations.notices import (  # noqa: F401
    on_enrolled,
    on_session_cancelled,
    on_session_changed,
    on_unenrolled,
    queue_for_session,
    queue_reminders,
    would_notify,
)
