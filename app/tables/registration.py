"""Online registration ("Inscriptions locales", SPEC F): the back office's reference lists."""

from enum import Enum

from piccolo.columns import Boolean, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.tables.accounts import User
from app.tables.catalogue import TrainingSession
from app.services.text import loose_search_text
from app.tables.searchable import Searchable


class RefKind(str, Enum):
    """The reference lists; their titles in app/services/registration_admin.py REF_KINDS."""

    establishment_type = "establishment_type"
    candidate_state = "candidate_state"
    funding_method = "funding_method"


class RequestStatus(str, Enum):
    """Labels in app/services/registration/common.py STATUS_LABELS."""

    draft = "draft"
    awaiting_confirmation = "awaiting_confirmation"
    confirmed = "confirmed"
    waiting_list = "waiting_list"
    instance_validated = "instance_validated"
    credentials_sent = "credentials_sent"
    completed = "completed"
    refused = "refused"
    cancelled = "cancelled"


# A request's status before and after an event (an event that changes none states it twice); none:
# the column's default, which no event written by the app keeps.
EventStatus = Enum("EventStatus", {"none": "", **{s.name: s.value for s in RequestStatus}}, type=str)


class Answer(str, Enum):
    """A yes/no question of the wizard (labels in app/services/registration/common.py YES_NO)."""

    none = ""  # not answered
    no = "no"
    yes = "yes"


class RefItem(Table):
    """An entry of one of the simple lists the wizard offers (SPEC F4)."""

    kind = Varchar(length=32, index=True, choices=RefKind)
    label = Varchar(length=255)
    position = Integer(default=0)
    hidden = Boolean(default=False)


class Organisation(Searchable, Table):
    """An organisation a requester belongs to ("Établissement" of the seed's back office)."""

    SEARCHED = ("name", "postal_code", "city")
    SEARCH_TEXT = staticmethod(loose_search_text)

    name = Varchar(length=255)
    kind = ForeignKey(references=RefItem, null=True, on_delete=OnDelete.set_null)  # its establishment type
    postal_code = Varchar(length=10, default="")
    city = Varchar(length=100, default="")
    validation_email = Varchar(length=254, default="")  # the requester's validating instance
    referenced = Boolean(default=True)  # False: created by the wizard, to review
    under_agreement = Boolean(default=False)  # conventionné avec l'opérateur
    hidden = Boolean(default=False)
    position = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())
    search_text = Text(default="")  # folded name, postal code and city (app/services/text.py search)
    # A duplicate merged by a manager into the one kept: kept (soft) for the record, never offered again.
    merged_into = ForeignKey(references="self", null=True, on_delete=OnDelete.set_null)
    merged_at = Timestamptz(null=True, default=None)
    merged_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)


class RegistrationRequest(Table):
    """A request made through the public wizard (SPEC F1-F3), from its draft to its last step."""

    reference = Varchar(length=32, unique=True, index=True)
    status = Varchar(length=24, default="draft", index=True, choices=RequestStatus)
    step = Integer(default=1)
    draft_key = Varchar(length=64, default="", index=True)  # the visitor's cookie while a draft
    session = ForeignKey(references=TrainingSession, null=True, on_delete=OnDelete.set_null, index=True)
    user = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    funding = ForeignKey(references=RefItem, null=True, on_delete=OnDelete.set_null)
    organisation = ForeignKey(references=Organisation, null=True, on_delete=OnDelete.set_null, index=True)
    mandate = ForeignKey(references=RefItem, null=True, on_delete=OnDelete.set_null)
    civility = Varchar(length=8, default="")
    first_name = Varchar(length=100, default="")
    last_name = Varchar(length=100, default="")
    email = Varchar(length=254, default="", index=True)
    postal_code = Varchar(length=10, default="")
    phone = Varchar(length=30, default="")
    expectations = Text(default="")
    mandate_year = Varchar(length=4, default="")
    dietary = Varchar(length=3, default="", choices=Answer)
    dietary_details = Text(default="")
    disability = Boolean(default=False)
    consent_carpool = Varchar(length=3, default="", choices=Answer)
    consent_mailing = Varchar(length=3, default="", choices=Answer)
    consent_image = Varchar(length=3, default="", choices=Answer)
    cgv_accepted = Boolean(default=False)
    waiting_list = Boolean(default=False)
    confirmation_nonce = Varchar(length=64, default="")
    reason = Text(default="")
    submitted_at = Timestamptz(null=True, default=None)
    confirmed_at = Timestamptz(null=True, default=None)
    # When the notifications after the confirmation were written (once; see send_notifications).
    notified_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class RequestEvent(Table):
    """Every transition of a request: who, when, from what to what, why."""

    request = ForeignKey(references=RegistrationRequest, on_delete=OnDelete.cascade, index=True)
    actor = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    action = Varchar(length=64)
    from_status = Varchar(length=24, default="", choices=EventStatus)
    to_status = Varchar(length=24, default="", choices=EventStatus)
    note = Text(default="")
    at = Timestamptz(default=TimestamptzNow())


async def backfill_organisation_search_text() -> None:
    """The folded search text of organisations made before the column existed (a fold is Python's,
    not SQL's): used by the PostgreSQL migration and by an older embedded database alike."""
    rows = await Organisation.raw("SELECT id, name, postal_code, city FROM organisation")
    for row in rows:
        await Organisation.raw("UPDATE organisation SET search_text = {} WHERE id = {}",
                               loose_search_text(row["name"], row["postal_code"], row["city"]), row["id"])


# The accounts the back office's step 8 created before external trainees existed (SPEC F3 step 9):
# the request's person, whose account was created at or after that request's « 8. Validation
# opérateur » (an account reused at step 8 is older than it). They become external trainees,
# attached to the organisation of that request (the one kept if it was merged), out of the session's
# establishment, their learner role with them; their username and enrolments are kept (people log in
# with it). An account given another role since (a manager) is left alone. Safe to run again: only
# accounts not yet external are moved. SQL that PostgreSQL and SQLite both run.
_CREATED_BY_STEP_8 = (
    "FROM registration_request r JOIN request_event e ON e.request = r.id "
    "WHERE r.\"user\" = app_user.id AND e.action = '8. Validation opérateur' AND app_user.created_at >= e.at")
MOVE_REGISTERED_ACCOUNTS = [
    "UPDATE app_user SET external = TRUE, establishment = NULL, organisation = ("
    "SELECT COALESCE(o.merged_into, o.id) " + _CREATED_BY_STEP_8.replace(
        "WHERE", "JOIN organisation o ON o.id = r.organisation WHERE", 1) + " ORDER BY r.id LIMIT 1) "
    "WHERE external = FALSE AND EXISTS (SELECT 1 " + _CREATED_BY_STEP_8 + ") "
    "AND NOT EXISTS (SELECT 1 FROM role_assignment g WHERE g.\"user\" = app_user.id AND g.role <> 'learner')",
    "UPDATE role_assignment SET establishment = NULL WHERE role = 'learner' AND establishment IS NOT NULL "
    "AND \"user\" IN (SELECT id FROM app_user WHERE external = TRUE)",
]


# An embedded (SQLite) database made before a column existed gets it at start (app/db.py), then
# these statements (SQL, or a coroutine function for what SQL cannot do), once; on PostgreSQL the
# migration that adds the column does the same.
ADDED_COLUMN_BACKFILLS = {
    ("app_user", "external"): MOVE_REGISTERED_ACCOUNTS,
    ("organisation", "search_text"): [backfill_organisation_search_text],
    ("registration_request", "notified_at"): [
        # Requests already notified keep their date (the sweep must not notify them again).
        "UPDATE registration_request SET notified_at = (SELECT MIN(e.at) FROM request_event e "
        "WHERE e.request = registration_request.id AND e.action = 'Notifications envoyées')",
        *(f"UPDATE registration_request SET {c} = CASE {c} WHEN 'oui' THEN 'yes' WHEN 'non' THEN 'no' ELSE {c} END"
          for c in ("dietary", "consent_carpool", "consent_mailing", "consent_image")),
        "UPDATE mail SET category = 'registration-bi-copy' WHERE category = 'registration-bi' "
        "AND subject LIKE '[Copie]%'",
    ],
    # Its comma-separated text, set aside as allowed_old (app/db.py RETYPED_COLUMNS), as a JSON array.
    ("import_row", "allowed"): [
        """UPDATE import_row SET allowed = '["' || replace(allowed_old, ',', '", "') || '"]'""",
        "ALTER TABLE import_row DROP COLUMN allowed_old",
    ],
}
