"""Online registration (seed 003, SPEC F1-F3): the public wizard's draft, the submission, the
e-mail confirmation, and the back-office workflow (steps 6 to 10), every transition recorded.

One module per concern; this package re-exports what controllers, jobs and tests use:

- ``forms``: the typed forms (wizard steps, navigation, follow, back-office action);
- ``common``: statuses, greeting, operator, the per-recipient cap, a request's details and events;
- ``links``: the signed links (confirmation, follow, resume);
- ``sessions``: the session a requester registers to;
- ``organisations``: the organisations a requester picks or types (step 3);
- ``draft``: the draft (cookie key, resume on another device); ``steps``: one step saved;
- ``submission``: submit, confirm the address, a new confirmation link;
- ``bulletin``: the BI and where it is; ``notifications``: the mails after the confirmation and
  the bulletins held for an unreviewed organisation;
- ``workflow``: the back office's steps, refusal and cancellation, the account at step 8;
- ``follow``: the requester follows or cancels their request.

Seats: see app/services/seats.py (one count, checked in a locked transaction at every step that
takes or keeps one: submission, confirmation, and the back office's steps 6, 8 and 10).
"""

from app.services.registration.bulletin import BI_STATES, bulletin_context, bulletin_problem, bulletin_state
from app.services.registration.common import (
    BI_CATEGORY, BI_COPY_CATEGORY, NOTIFIABLE, OPEN_STATUSES, OPERATOR_DEFAULT, RECIPIENT_CAP_NOTE, RECIPIENT_CAPPED,
    RECIPIENT_MAILS, STATUS_LABELS, STEPS, YES_NO, RegistrationClosed, capfirst, greeting, may_mail,
    operator_addresses, operator_name, recipient_key, request_details, request_key,
)
from app.services.registration.draft import (
    cancel_draft, draft_for, move_draft, prefilled, resumable_draft, send_resume_link, start_draft, take_over_draft,
)
from app.services.registration.follow import cancel_by_requester, followed_request, send_follow_link
from app.services.registration.forms import (
    STEP_FORMS, ActionForm, ConsentsForm, DietaryForm, DisabilityForm, FollowForm, FundingForm, MandateForm,
    Navigation, OrganisationForm, StartForm, TermsForm, TraineeForm,
)
from app.services.registration.links import CONFIRM_MAX_AGE, LinkProblem, read_link
from app.services.registration.notifications import release_held_bulletins, send_notifications
from app.services.registration.organisations import PENDING_MARK, choices, close_organisation, search_organisations
from app.services.registration.sessions import open_session, open_session_by_id, session_dates
from app.services.registration.steps import save_step
from app.services.registration.submission import confirm, resend_confirmation, submit
from app.services.registration.workflow import (
    CONFIRMED_ACTIONS, WORKFLOW, apply_action, confirmation_details, counts_by_status, next_action, waiting_count,
)

__all__ = [
    "BI_CATEGORY", "BI_COPY_CATEGORY", "BI_STATES", "CONFIRMED_ACTIONS", "CONFIRM_MAX_AGE", "NOTIFIABLE",
    "OPEN_STATUSES", "OPERATOR_DEFAULT", "PENDING_MARK", "RECIPIENT_CAPPED", "RECIPIENT_CAP_NOTE", "RECIPIENT_MAILS",
    "STATUS_LABELS", "STEPS", "STEP_FORMS", "WORKFLOW", "YES_NO", "ActionForm", "ConsentsForm", "DietaryForm",
    "DisabilityForm", "FollowForm", "FundingForm", "LinkProblem", "MandateForm", "Navigation", "OrganisationForm",
    "RegistrationClosed", "StartForm", "TermsForm", "TraineeForm", "apply_action", "bulletin_context",
    "bulletin_problem", "bulletin_state", "cancel_by_requester", "cancel_draft", "capfirst", "choices",
    "close_organisation", "confirm", "confirmation_details", "counts_by_status", "draft_for", "followed_request",
    "greeting", "may_mail", "move_draft", "next_action", "open_session", "open_session_by_id", "operator_addresses",
    "operator_name", "prefilled", "read_link", "recipient_key", "release_held_bulletins", "request_details",
    "request_key", "resend_confirmation", "resumable_draft", "save_step", "search_organisations", "send_follow_link",
    "send_notifications", "send_resume_link", "session_dates", "start_draft", "submit", "take_over_draft",
    "waiting_count",
]
