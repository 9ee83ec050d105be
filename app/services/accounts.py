"""Accounts of an establishment: the username nomenclature (SPEC A1), the manual form (A2), the
management actions (A4). Every function that touches a user checks the caller's scope first."""

from __future__ import annotations

import asyncio
import math
import re
from dataclasses import dataclass
from typing import Annotated
from datetime import datetime
from functools import lru_cache


from app import db
from app.bulk import bulk_insert
from app.dates import now
from app.services import outbox
from app.services.auth import new_password_values
from app.services.errors import NotFound, ValidationFailed
from app.validation import MaxLen, Required, declared_errors, field_errors, max_length
from app.services.passwords import Password, generate_password, hash_password, policy_error
from app.services.roles import LEARNER, CurrentUser
from app.services.scope import establishment_scope
from app.services.text import fold, user_text_fields
from app.services.uniqueness import EMAIL_TAKEN, fields_unique
from app.settings import get_settings
from app.tables.accounts import RoleAssignment, User
from app.tables.catalogue import TrainingSession
from app.tables.cohorts import Cohort, CohortMember
from app.tables.evidence import AttendanceRecord, SessionTrainer, SlotClosure
from app.tables.learning import DiscussionMessage, Enrolment
from app.tables.org import Establishment

# No character with a meaning in a mail header: « x:victime@… » is a group whose one member is
# victime@…, « "a"@… » a quoted alias of a@… — another text for the same mailbox would slip past the
# per-recipient cap and the one-account-per-address rule. ASCII only: a mail server without SMTPUTF8
# (most) refuses « élodie@… », and the outbox would retry that mail for days.
EMAIL_RE = re.compile(r'^(?=[\x21-\x7e]+$)[^@\s,;<>:()\[\]"\\]+@[^@\s,;<>:()\[\]"\\]+\.[A-Za-z]{2,}$')


def normalise_email(value: str | None) -> str:
    """How every e-mail is stored and looked up (accounts, imports, registration requests,
    organisations, settings): stripped and lower-cased, so addresses compare case-insensitively."""
    return (value or "").strip().lower()


USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,149}$")
# The status of an account (SPEC A2): stored key -> French label.
STATUS_LABELS = {
    "fph_agent": "Agent FPH",
    "fpt_agent": "Agent FPT",
    "fpe_agent": "Agent FPE",
    "contract": "Contractuel",
    "elected": "Élu",
    "apprentice": "Apprenti",
    "staff": "Personnel",
    "other": "Autre",
}


# -- nomenclature -----------------------------------------------------------------------------
def name_slug(text: str) -> str:
    """'D'Artagnan-Lé' -> 'dartagnan-le': folded, lower-case; apostrophes, spaces and any other
    punctuation removed, inner hyphens kept (they separate the parts of a compound name)."""
    folded = fold(text)
    kept = re.sub(r"[^a-z0-9-]", "", folded.replace(" ", ""))
    return re.sub(r"-{2,}", "-", kept).strip("-")


def suggest_username(establishment_code: str, first_name: str, last_name: str) -> str:
    """Agent account: `<code>.<first letter of first name>.<last name>` (dam023.l.ollivet)."""
    return username_of_slugs(establishment_code, name_slug(first_name), name_slug(last_name))


def username_of_slugs(establishment_code: str, first_slug: str, last_slug: str) -> str:
    """``suggest_username`` from the names' slugs (the import has them already, from its checks)."""
    return f"{establishment_code.lower()}.{first_slug[:1] or 'x'}.{last_slug or 'agent'}"


EXTERNAL_PREFIX = "ext"


def external_username(first_name: str, last_name: str) -> str:
    """External trainee (registered through the public wizard): `ext.<first letter of first
    name>.<last name>` (ext.f.leveque-sauvan), no establishment code; a free suffix 2, 3… as usual."""
    return suggest_username(EXTERNAL_PREFIX, first_name, last_name)


def nomenclature_problem(username: str, establishment_code: str, form: "AccountForm") -> str | None:
    """Why ``username`` departs from the seed's nomenclature ("à TOUJOURS respecter"); None if it
    follows it: `<code>.<initial>.<nom>` (a free suffix 2, 3… allowed) or `<code>.<nom>.test`."""
    code = establishment_code.lower()
    if form.kind == "test":
        if re.fullmatch(rf"{re.escape(code)}\.[a-z0-9]+\.test", username):
            return None
        return (f"Un compte test d'établissement s'écrit « {code}.<nom de l'établissement>.test », "
                f"tout en minuscules (ex. {code}.ehpadvertbois.test).")
    expected = suggest_username(establishment_code, form.first_name, form.last_name)
    if re.fullmatch(rf"{re.escape(expected)}([2-9]|[1-9][0-9]+)?", username):
        return None
    return (f"Ce nom ne respecte pas la nomenclature « code établissement.initiale du prénom.nom » : "
            f"pour {form.first_name or 'ce prénom'} {form.last_name or 'ce nom'} ce serait « {expected} ». "
            "Corrigez-le, ou cochez la confirmation pour garder ce nom.")


def suggest_test_username(establishment_code: str, name: str) -> str:
    """Establishment test account: `<code>.<name>.test` (dam016.ephadvertbois.test)."""
    return f"{establishment_code.lower()}.{name_slug(name).replace('-', '')}.test"


async def free_username(wanted: str, taken: set[str] | None = None) -> str:
    """`wanted` if nobody has it, else the first of wanted2, wanted3, … that is free."""
    rows = await User.select(User.username).where(
        (User.username == wanted) | User.username.like(f"{wanted}%")
    )
    return next_free(wanted, {r["username"] for r in rows} | (taken or set()))


async def suggested_username(establishment: dict, form: "AccountForm") -> str:
    """The username the nomenclature gives this form: agent (with the next free suffix) or the
    establishment's test account."""
    if form.kind == "test":
        return suggest_test_username(establishment["code"], establishment["name"])
    return await free_username(suggest_username(establishment["code"], form.first_name, form.last_name))


def next_free(wanted: str, used: set[str]) -> str:
    """`wanted`, or the first of wanted2, wanted3, … not in ``used``."""
    if wanted not in used:
        return wanted
    n = 2
    while f"{wanted}{n}" in used:
        n += 1
    return f"{wanted}{n}"


def fictitious_email(username: str) -> str:
    """For a person without e-mail (SPEC A2): the username with `.fictif`; never mailed."""
    return normalise_email(f"{username}.fictif@{get_settings().fictive_email_domain}")


def is_fictitious(email: str) -> bool:
    return ".fictif@" in (email or "")


async def email_taken(email: str, other_than: int | None = None) -> bool:
    """Whether another active account holds this real address (the unique index
    app_user_email_unique is the guarantee; this is the friendly check before it)."""
    email = normalise_email(email)
    if not email or is_fictitious(email):
        return False
    query = User.exists().where((User.email == email) & User.deactivated_at.is_null())
    return await (query if other_than is None else query.where(User.id != other_than))


def normalise_matricule(value: str | None) -> str:
    """Matricules are stored prefixed with 000 (SPEC A2): '812' -> '000812'."""
    value = re.sub(r"\s+", "", str(value or ""))
    if not value:
        return ""
    return value if value.startswith("000") else f"000{value}"


# -- creating accounts --------------------------------------------------------------------------
# The one way an account is made (the manual form, the registration's step 8, the CSV import):
# the user and its learner role, set-based.
ACCOUNT_COLUMNS = [
    User.username, User.password_hash, User.first_name, User.last_name, User.email, User.establishment, User.status,
    User.matricule, User.is_suspended, User.force_password_change, User.search_text, User.last_name_key,
    User.first_name_key, User.created_at, User.organisation, User.external,
]
ROLE_COLUMNS = [RoleAssignment.user, RoleAssignment.role, RoleAssignment.establishment, RoleAssignment.granted_by,
                RoleAssignment.created_at]


@dataclass(frozen=True)
class NewAccount:
    """An account to create. The password comes hashed (off the event loop, by the caller: the
    full cost, or the temporary cost of a bulk import); the username and address are the caller's
    to choose and check."""

    username: str
    password_hash: str
    first_name: str
    last_name: str
    email: str
    establishment: int | None = None
    status: str = ""
    matricule: str = ""
    force_password_change: bool = True
    organisation: int | None = None  # an external trainee's (README « Accounts »), who has no establishment
    external: bool = False

    def record(self, created_at: datetime) -> tuple:
        """The row, in the order of ACCOUNT_COLUMNS."""
        keys = user_text_fields(self.first_name, self.last_name, self.username, self.email)
        return (self.username, self.password_hash, self.first_name, self.last_name, self.email, self.establishment,
                self.status, self.matricule, False, self.force_password_change, keys["search_text"],
                keys["last_name_key"], keys["first_name_key"], created_at, self.organisation, self.external)


async def insert_accounts(accounts: list[NewAccount], granted_by: int | None,
                          created_at: datetime | None = None, role: str = LEARNER) -> dict[str, int]:
    """Create these accounts, each with the learner role in its establishment (none for an external
    trainee) — or ``role`` (a trainer made by a session's managers, issue 22): one bulk insert for the
    users and one for their roles, whatever their number, in the caller's transaction. Returns their
    ids by username. A username or address taken meanwhile raises the database's integrity error
    (``uniqueness.message_for`` says it in French)."""
    if not accounts:
        return {}
    t = created_at or now()
    await bulk_insert(User, ACCOUNT_COLUMNS, [a.record(t) for a in accounts])
    inserted = await User.select(User.id, User.username).where(db.among(User.username, [a.username for a in accounts]))
    ids = {u["username"]: u["id"] for u in inserted}
    await bulk_insert(RoleAssignment, ROLE_COLUMNS,
                      [(ids[a.username], role, a.establishment, granted_by, t) for a in accounts])
    return ids


async def insert_account(account: NewAccount, granted_by: int | None, role: str = LEARNER) -> int:
    """One account (``insert_accounts`` with one row); returns its id."""
    return (await insert_accounts([account], granted_by, role=role))[account.username]


# -- credentials mail ---------------------------------------------------------------------------
def credentials_mail(first_name: str, username: str, new_account: bool = True) -> tuple[str, str]:
    """Subject and body of the credentials mail; the password is the mail's secret (SECRET_MARK)."""
    url = get_settings().base_url
    subject = "Tremplin : vos identifiants de connexion" if new_account else "Tremplin : votre nouveau mot de passe"
    intro = ("Un compte a été créé pour vous sur la plateforme de formation Tremplin." if new_account else
             "Un nouveau mot de passe a été généré pour votre compte sur la plateforme de formation Tremplin.")
    body = (
        f"Bonjour {first_name},\n\n"
        f"{intro}\n\n"
        f"Adresse de la plateforme : {url}/connexion\n"
        f"Nom d'utilisateur : {username}\n"
        f"Mot de passe : {outbox.SECRET_MARK}\n\n"
        "Vous devrez choisir un nouveau mot de passe à votre première connexion.\n\n"
        "Ce message est envoyé automatiquement, merci de ne pas y répondre.\n"
    )
    return subject, body


# -- the account form ---------------------------------------------------------------------------
@dataclass
class AccountForm:
    """The manual account form (SPEC A2), as posted."""

    username: Annotated[str, MaxLen(150, "Le nom d'utilisateur")] = ""
    # "agent" (<code>.<initial>.<nom>) or "test" (<code>.<nom de l'établissement>.test), seed 000 step 1.
    kind: str = "agent"
    # The manager confirms a username outside the nomenclature (a staff account, say).
    nomenclature_confirmed: bool = False
    generate_password: bool = False
    password: Annotated[Password, MaxLen(255, "Le mot de passe")] = ""
    force_password_change: bool = False
    first_name: Annotated[str, Required("Le prénom est obligatoire."), MaxLen(100, "Le prénom")] = ""
    last_name: Annotated[str, Required("Le nom de famille est obligatoire."), MaxLen(100, "Le nom de famille")] = ""
    email: Annotated[str, MaxLen(254, "L'adresse de courriel")] = ""
    # « Délégation » (seed 000): the delegation of the establishment chosen; checked against it.
    delegation: int | None = None
    establishment: int | None = None
    status: str = ""
    matricule: Annotated[str, MaxLen(47, "Le matricule")] = ""

    def __post_init__(self) -> None:
        self.username = self.username.strip().lower()
        self.email = normalise_email(self.email)


async def username_problem(username: str, exclude_user_id: int | None = None) -> str | None:
    """Why this username cannot be used, with a free alternative; None when it can."""
    if not username:
        return "Le nom d'utilisateur est obligatoire."
    if not USERNAME_RE.match(username):
        return "Le nom d'utilisateur ne peut contenir que des minuscules sans accent, chiffres, points, tirets."
    query = User.exists().where(User.username == username)
    if exclude_user_id:
        query = query.where(User.id != exclude_user_id)
    if await query:
        alternative = await free_username(username)
        return f"Ce nom d'utilisateur est déjà utilisé. Proposition : {alternative}"
    return None


# The order an import row states its length problems in (ImportRow.problems keeps that text).
LENGTH_ORDER = ("first_name", "last_name", "email", "matricule", "username", "password")


@lru_cache(maxsize=None)
def _length_limit(name: str) -> float:
    limit = max_length(AccountForm, name)
    return math.inf if limit is None else limit


def too_long(values: dict[str, str]) -> dict[str, str]:
    """Field errors for values longer than the account form declares (its columns): refused, never
    cut. The CSV import checks its rows with it."""
    if all(len(value or "") <= _length_limit(name) for name, value in values.items()):
        return {}  # the usual case, without the rules' walk (an import checks 20,000 rows)
    errors = field_errors(AccountForm, values, only=values.keys(), kinds=(MaxLen,))
    return {name: errors[name] for name in LENGTH_ORDER if name in errors}


async def _validate(form: AccountForm, user: CurrentUser, editing_id: int | None = None,
                    previous_username: str | None = None, external: bool = False) -> dict[str, str]:
    errors: dict[str, str] = {}
    scope = await establishment_scope(user)
    if external and not form.establishment:
        pass  # an external trainee stays attached to their organisation (only an administrator edits them)
    elif not form.establishment or not scope.allows(form.establishment):
        errors["establishment"] = "Choisissez un établissement de votre périmètre."
    if form.delegation and form.establishment and "establishment" not in errors:
        chosen = await Establishment.select(Establishment.delegation).where(Establishment.id == form.establishment).first()
        if chosen is None or chosen["delegation"] != form.delegation:
            errors["delegation"] = "L'établissement choisi n'appartient pas à cette délégation : choisissez l'un des siens."
    problem = await username_problem(form.username, editing_id)
    if problem:
        errors["username"] = problem
    elif form.username != previous_username and form.establishment and not form.nomenclature_confirmed:
        # Checked on creation and when a username is changed (an existing staff account keeps its own).
        establishment = await Establishment.select(Establishment.code).where(
            Establishment.id == form.establishment).first()
        problem = nomenclature_problem(form.username, establishment["code"], form) if establishment else None
        if problem:
            errors["username"] = problem
            errors["nomenclature"] = problem
    if form.email and not EMAIL_RE.match(form.email):
        errors["email"] = "Adresse de courriel invalide."
    elif form.email and await email_taken(form.email, editing_id):
        errors["email"] = EMAIL_TAKEN
    if editing_id is None and not form.generate_password:
        problem = policy_error(form.password)
        if problem:
            errors["password"] = problem
    elif editing_id is not None and form.password:
        problem = policy_error(form.password)
        if problem:
            errors["password"] = problem
    if form.status and form.status not in STATUS_LABELS:
        errors["status"] = "Choisissez un statut de la liste."
    if not form.email and form.generate_password:
        errors["email"] = (
            "Sans adresse de courriel, le mot de passe généré ne pourrait pas être envoyé : "
            "saisissez un mot de passe et communiquez-le vous-même."
        )
    errors.update(declared_errors(form))  # last: a length (or a missing name) is what is said of the field
    return errors


async def create_account(user: CurrentUser, form: AccountForm, redis=None) -> int:
    """Create an account (SPEC A2); returns its id. Raises ValidationFailed with French messages."""
    errors = await _validate(form, user)
    if errors:
        raise ValidationFailed(errors)
    email = form.email or fictitious_email(form.username)
    password = generate_password() if form.generate_password else form.password
    password_hash = await asyncio.to_thread(hash_password, password)
    mail_ids = []
    account = NewAccount(
        username=form.username, password_hash=password_hash, first_name=form.first_name, last_name=form.last_name,
        email=email, establishment=form.establishment, status=form.status,
        matricule=normalise_matricule(form.matricule),
        force_password_change=form.generate_password or form.force_password_change,
    )
    async with fields_unique(), db.transaction():
        user_id = await insert_account(account, granted_by=user.id)
        if form.generate_password:
            subject, body = credentials_mail(form.first_name, form.username)
            mail_ids.append(await outbox.queue_mail([email], subject, body, category="credentials", secret=password))
    if redis is not None and mail_ids:
        await outbox.dispatch(redis, mail_ids)
    return user_id


async def user_in_scope(user: CurrentUser, user_id: int) -> dict:
    """An account the caller may manage (``Scope.users_where``: in their establishments and holding
    no right beyond them), or NotFound — the same answer whether it exists elsewhere or not at all."""
    scope = await establishment_scope(user)
    clause = (User.id == user_id) & User.deactivated_at.is_null()
    where = scope.users_where()
    row = (
        await User.select(
            User.all_columns(exclude=[User.password_hash]),
            User.establishment.code.as_alias("establishment_code"),
            User.establishment.name.as_alias("establishment_name"),
            User.establishment.delegation.name.as_alias("delegation_name"),
            User.establishment.delegation.as_alias("delegation"),
        )
        .where(clause if where is None else clause & where)
        .first()
    )
    if row is None:
        raise NotFound("Utilisateur introuvable.")
    return row


async def update_account(user: CurrentUser, user_id: int, form: AccountForm) -> None:
    target = await user_in_scope(user, user_id)
    form.generate_password = False
    errors = await _validate(form, user, editing_id=user_id, previous_username=target["username"],
                             external=target["external"])
    if errors:
        raise ValidationFailed(errors)
    email = form.email or fictitious_email(form.username)
    values = {
        User.username: form.username,
        User.first_name: form.first_name,
        User.last_name: form.last_name,
        User.email: email,
        User.establishment: form.establishment,
        User.status: form.status,
        User.matricule: normalise_matricule(form.matricule),
        # An external trainee an administrator attaches to an establishment becomes one of its agents.
        User.external: bool(target["external"]) and not form.establishment,
    }
    values.update({getattr(User, k): v for k, v in user_text_fields(form.first_name, form.last_name, form.username, email).items()})
    if form.password:
        # A new password ends the person's open sessions.
        values.update(new_password_values(await asyncio.to_thread(hash_password, form.password),
                                          force_change=form.force_password_change))
    elif form.force_password_change:
        values[User.force_password_change] = True
    async with fields_unique(), db.transaction():
        await User.update(values).where(User.id == user_id)
        # The learner role follows the establishment.
        await RoleAssignment.update({RoleAssignment.establishment: form.establishment}).where(
            (RoleAssignment.user == user_id) & (RoleAssignment.role == LEARNER)
        )
        if target["establishment"] and target["establishment"] != form.establishment:
            await leave_establishment(user_id, target["establishment"])


async def leave_establishment(user_id: int, establishment_id: int) -> None:
    """Someone moved elsewhere stops being managed by their former establishment: out of its
    cohorts, and their enrolments in its sessions deactivated (kept, never deleted)."""
    await CohortMember.delete().where(
        (CohortMember.user == user_id)
        & CohortMember.cohort.is_in(Cohort.select(Cohort.id).where(Cohort.establishment == establishment_id))
    )
    await Enrolment.update({Enrolment.active: False}).where(
        (Enrolment.user == user_id)
        & Enrolment.session.is_in(TrainingSession.select(TrainingSession.id).where(
            TrainingSession.establishment == establishment_id))
    )


async def regenerate_password(user: CurrentUser, user_id: int, redis=None) -> tuple[str, bool]:
    """A new random password, change forced at next login; mailed when the address is real.
    Returns (password, mailed): the manager is shown the password when it could not be mailed."""
    target = await user_in_scope(user, user_id)
    password = generate_password()
    password_hash = await asyncio.to_thread(hash_password, password)
    mailed = not is_fictitious(target["email"])
    mail_ids = []
    async with db.transaction():
        await User.update(new_password_values(password_hash, force_change=True)).where(User.id == user_id)
        if mailed:
            subject, body = credentials_mail(target["first_name"], target["username"], new_account=False)
            mail_ids.append(await outbox.queue_mail([target["email"]], subject, body, category="credentials",
                                                    secret=password))
    if redis is not None and mail_ids:
        await outbox.dispatch(redis, mail_ids)
    return password, mailed


async def set_suspended(user: CurrentUser, user_id: int, suspended: bool) -> dict:
    target = await user_in_scope(user, user_id)
    if target["id"] == user.id:
        raise ValidationFailed({"user": "Vous ne pouvez pas suspendre votre propre compte."},
                               "Vous ne pouvez pas suspendre votre propre compte.")
    await User.update({User.is_suspended: suspended}).where(User.id == user_id)
    return target


async def delete_account(user: CurrentUser, user_id: int) -> dict:
    target = await user_in_scope(user, user_id)
    if target["id"] == user.id:
        raise ValidationFailed({"user": "Vous ne pouvez pas supprimer votre propre compte."},
                               "Vous ne pouvez pas supprimer votre propre compte.")
    target["deactivated"] = await has_training_records(user_id)
    if target["deactivated"]:
        # Records of training are never lost by a click: the account goes, the person stays.
        await User.update({User.deactivated_at: now(), User.is_suspended: True}).where(User.id == user_id)
    else:
        await User.delete().where(User.id == user_id)
    return target


async def has_training_records(user_id: int) -> bool:
    """Whether deleting the account would lose records of training: as a learner (enrolments), as a
    trainer (designated for a session, attendance they recorded, slots they closed: their name on the
    signed sheets' evidence would become NULL), or as an author in a session's discussion."""
    for table, column in ((Enrolment, Enrolment.user), (SessionTrainer, SessionTrainer.user),
                          (AttendanceRecord, AttendanceRecord.recorded_by), (SlotClosure, SlotClosure.closed_by),
                          (DiscussionMessage, DiscussionMessage.author)):
        if await table.exists().where(column == user_id):
            return True
    return False
