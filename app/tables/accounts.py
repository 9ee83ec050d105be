"""People and what they may do: users and role assignments."""

from enum import Enum

from piccolo.columns import (
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.reference import LazyTableReference
from piccolo.table import Table

from app.tables.org import Delegation, Establishment


class AccountStatus(str, Enum):
    """The status of an account (SPEC A2); labels in app/services/accounts.py STATUS_LABELS."""

    none = ""  # not given
    fph_agent = "fph_agent"
    fpt_agent = "fpt_agent"
    fpe_agent = "fpe_agent"
    contract = "contract"
    elected = "elected"
    apprentice = "apprentice"
    staff = "staff"
    other = "other"


class Role(str, Enum):
    """Labels and scopes in app/services/roles.py."""

    admin = "admin"
    ged = "ged"  # a delegation's manager
    get = "get"  # an establishment's manager
    registration_manager = "registration_manager"
    registration_tester = "registration_tester"
    learner = "learner"
    operations = "operations"
    trainer = "trainer"  # a session's « Formateur » (app/tables/evidence.py SessionTrainer)


class TrainerStatus(str, Enum):
    """A trainer in the BPF's frame E. Empty: internal when the account belongs to an establishment,
    external otherwise (a person created as an external trainer)."""

    none = ""
    internal = "internal"  # personne de l'organisme
    external = "external"  # personne extérieure (sous-traitance)


class User(Table, tablename="app_user"):
    username = Varchar(length=150, unique=True, index=True)
    password_hash = Varchar(length=255)
    first_name = Varchar(length=100)
    last_name = Varchar(length=100)
    email = Varchar(length=254, index=True)
    establishment = ForeignKey(references=Establishment, null=True, on_delete=OnDelete.set_null, index=True)
    status = Varchar(length=100, default="", choices=AccountStatus)
    matricule = Varchar(length=50, default="", index=True)
    is_suspended = Boolean(default=False)
    force_password_change = Boolean(default=False)
    # Bumped by every new password; a session remembers the version it was opened with and ends
    # when the user's has moved on (app.services.auth.load_current_user).
    credentials_version = Integer(default=0)
    # Lower-cased, accent-free copies: the same search on PostgreSQL and SQLite (whose LIKE only
    # folds ASCII case), and a sort that puts "Élodie" with the E. On PostgreSQL these three and
    # ``email`` compare in the "C" collation (migration 2026-11-23T14:30), as on SQLite, so a short
    # "begins with" search is a b-tree range: keep COLLATE "C" if a migration alters their type.
    search_text = Text(default="")
    last_name_key = Varchar(length=100, default="", index=True)
    first_name_key = Varchar(length=100, default="")
    last_access = Timestamptz(null=True, default=None)
    # Soft delete: an account with training records is deactivated, never erased (its enrolments,
    # completions and certificates keep their person). Hidden from every list, cannot log in.
    deactivated_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    # An external trainee (a person registered through the public wizard, SPEC F3 step 9): attached
    # to their organisation, not to an establishment (``establishment`` is NULL), so no establishment
    # counts or manages them; a GET sees them only as participants of their sessions. Declared after
    # ``organisation``: an older embedded database adds ``external`` last and moves the accounts then.
    organisation = ForeignKey(references=LazyTableReference("Organisation", module_path="app.tables.registration"),
                              null=True, on_delete=OnDelete.set_null)
    # No index=True: PostgreSQL has a partial index on the few external accounts instead
    # (migration 2026-12-06T19:10:01).
    external = Boolean(default=False)
    # As a trainer, for the BPF's frame E (issue 23).
    trainer_status = Varchar(length=16, default="", choices=TrainerStatus)
    # Retention (issue 25, app/services/retention/): when the daily job mailed that the account, unused,
    # would be pseudonymised (cleared when the person comes back), and when it was pseudonymised.
    retention_warned_at = Timestamptz(null=True, default=None)
    pseudonymised_at = Timestamptz(null=True, default=None)


class RoleAssignment(Table):
    """One role of one user, scoped to a delegation (GED) or an establishment (GET, learner)."""

    user = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True)
    role = Varchar(length=32, index=True, choices=Role)
    delegation = ForeignKey(references=Delegation, null=True, on_delete=OnDelete.cascade)
    establishment = ForeignKey(references=Establishment, null=True, on_delete=OnDelete.cascade)
    granted_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
