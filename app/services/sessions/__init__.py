"""Training sessions of an establishment (SPEC B2) and the content import from a template (B3).

Session codes (public registration, F1): `<YY><catalogue code>S<n>` — the two last digits of the
start year, the template's catalogue code, then the rank of this session among the sessions of
that template starting that year (26C03S1, 26C03S2, …). A session created before its content is
imported, or without a template, uses the catalogue code `X00`. The code can also be typed; it
must then be unique.

The package's modules: ``manage`` (a session in scope, its code, cancel, hide, delete),
``form`` and ``save`` (the creation form and the settings page) and ``content_import`` (the B3 wizard and its
job); the names a session takes are in ``app.services.session_names``. The names controllers, jobs
and other services use are importable from here.
"""

from app.services.seats import seats_taken  # the one count of seats, shown on the session pages
from app.services.session_names import name_for_documents, propose_full_name, renamed, stale_name
from app.services.sessions.content_import import (
    IMPORT_SETTINGS,
    IMPORT_STEPS,
    ImportStepForm,
    current_import,
    give_up_content_imports,
    launch_import,
    restart_import,
    run_content_import,
    save_import_step,
    search_templates,
    template_activities,
    visible_template_count,
)
from app.services.sessions.manage import (
    CODE_RE,
    cancel_session,
    category_counts,
    delete_session,
    next_code,
    session_activities,
    session_in_scope,
    set_visible,
)
from app.services.sessions.form import SessionForm
from app.services.sessions.save import NeedsConfirmation, proposed_name, save_session

__all__ = [
    "CODE_RE", "IMPORT_SETTINGS", "IMPORT_STEPS", "ImportStepForm", "NeedsConfirmation", "SessionForm",
    "cancel_session", "category_counts", "current_import", "delete_session", "give_up_content_imports",
    "launch_import", "name_for_documents", "next_code", "propose_full_name", "proposed_name", "renamed",
    "restart_import", "run_content_import", "save_import_step", "save_session", "search_templates",
    "seats_taken", "session_activities", "session_in_scope", "set_visible", "stale_name",
    "template_activities", "visible_template_count",
]
