"""Analysing the rows of a read file: each row's username, its problems and notes, and the
decisions it offers."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from app import db
from app.services.accounts import (
    EMAIL_RE,
    name_slug,
    next_free,
    normalise_email,
    normalise_matricule,
    too_long,
    username_of_slugs,
)
from app.services.imports.common import _usernames_with_prefix
from app.services.imports.read import ParsedFile
from app.services.passwords import policy_error
from app.services.roles import CurrentUser
from app.services.scope import establishment_scope, manageable_user_ids
from app.services.text import fold
from app.tables.accounts import User
from app.tables.cohorts import CohortMember

# -- analysing the rows -------------------------------------------------------------------------
# The kinds of problem a row can have. Any of BLOCKING makes the row an error: it is never imported.
BLOCKING = {"error", "same_person", "foreign", "two_accounts"}
FOREIGN_MESSAGE = ("Cette adresse ou ce matricule est déjà utilisé par un compte hors de votre périmètre : "
                   "ligne non importable.")
LABELS = {"email": "la même adresse de courriel", "matricule": "le même matricule"}
COHORT_NAME_MAX = 100


def _fit(value: str, limit: int) -> str:
    """A value cut to its ImportRow column, for display only: a row with an over-long value is an
    error (never imported), so nothing cut ever reaches an account."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _allowed(kinds: set[str], password_usable: bool) -> list[str]:
    if kinds & BLOCKING:
        return ["skip"]
    if "existing" in kinds:
        # The same person as an account we manage: update it or leave it, never a second account.
        return ["skip", "update", "update_password"] if password_usable else ["skip", "update"]
    return ["create", "skip"]


def _update_summary(row: dict, account: dict, cohorts_added: list[str], establishment: dict, password_usable: bool,
                    weak_password: bool) -> str:
    """Exactly what « Mettre à jour » would change on ``account`` (one of the caller's)."""
    changes = []
    for key, label in (("first_name", "prénom"), ("last_name", "nom"), ("email", "adresse de courriel"),
                       ("matricule", "matricule")):
        new, old = row[key], account[key] or ""
        if new and new != (old.lower() if key == "email" else old):
            changes.append(f"{label} « {old} » → « {new} »")
    if cohorts_added:
        changes.append("ajout " + ("à la cohorte " if len(cohorts_added) == 1 else "aux cohortes ")
                       + ", ".join(f"« {c} »" for c in cohorts_added))
    text = ("« Mettre à jour » : " + " ; ".join(changes) + "." if changes else
            "« Mettre à jour » ne changerait rien : prénom, nom, adresse, matricule et cohortes sont déjà ceux-là.")
    if account["establishment"] != establishment["id"]:
        text += f" Le compte reste rattaché à {account['establishment_code']}."
    if password_usable:
        text += (" Le mot de passe actuel est conservé ; « Mettre à jour + mot de passe du fichier » le remplace "
                 "par celui du fichier (changement imposé à la prochaine connexion).")
    elif weak_password:
        text += " Le mot de passe actuel est conservé (celui du fichier est trop faible)."
    else:
        text += " Le mot de passe actuel est conservé."
    return text


async def _existing_accounts(rows: list[dict], establishment_id: int) -> dict[tuple[str, str], list[dict]]:
    """Accounts holding one of the rows' e-mails (any account; e-mails are stored normalised, so
    this compares them case-insensitively) or matricules (an establishment's own numbering: its
    accounts only)."""
    found: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for key, where in (("email", lambda v: db.among(User.email, v)),
                       ("matricule", lambda v: db.among(User.matricule, v) & (User.establishment == establishment_id))):
        values = sorted({r[key] for r in rows if r[key]})
        for start in range(0, len(values), 5000):
            for account in await User.select(
                User.id, User.username, User.first_name, User.last_name, User.email, User.matricule,
                User.establishment, User.establishment.code.as_alias("establishment_code"),
            ).where(where(values[start:start + 5000])):
                value = account["email"].lower() if key == "email" else account["matricule"]
                found[(key, value)].append(account)
    return found


async def analyse(user: CurrentUser, establishment: dict, parsed: ParsedFile) -> list[dict]:
    """Every row with its username (the next free suffix for a homonym), its problems and notes,
    and the decisions it offers. Nothing of an account outside the caller's scope is ever shown."""
    analysed = [_read_row(raw, parsed.cohort_columns, establishment["code"]) for raw in parsed.rows]
    known = await _what_is_known(user, establishment, analysed)
    for r in analysed:
        _same_person_as_an_earlier_row(r, known)
        _same_person_as_an_account(r, known)
        password_usable = bool(r["password"]) and not policy_error(r["password"])
        if "existing" in r["kinds"]:
            _describe_update(r, known, establishment, password_usable)
        elif not r["kinds"] & BLOCKING:
            _check_password(r, password_usable)
        _username_for_a_new_account(r, known)
        _decide(r, password_usable)
    return analysed


# -- each row on its own ------------------------------------------------------------------------
def _read_row(raw: dict, cohort_columns: list[str], code: str) -> dict:
    """A row as the analysis works on it, with the problems it has on its own."""
    first, last, password = raw["firstname"], raw["lastname"], raw["password"]
    email, raw_matricule = normalise_email(raw["email"]), raw["profile_field_matricule"]
    r = {
        "line": raw["_line"], "first_name": first, "last_name": last, "password": password, "email": email,
        "matricule": normalise_matricule(raw_matricule),
        "cohorts": list(dict.fromkeys(raw[c] for c in cohort_columns if raw[c])),
        "base": "", "username": "", "problems": [], "kinds": set(), "existing_user": None,
    }
    values = {"first_name": first, "last_name": last, "email": email, "matricule": raw_matricule,
              "password": password}
    _check_lengths(r, values)
    _check_names(r, code)
    if email and not EMAIL_RE.match(email):
        r["problems"].append(f"Adresse de courriel invalide : {email}.")
        r["kinds"].add("error")
    return r


def _check_lengths(r: dict, values: dict[str, str]) -> None:
    """A value longer than its column is an error: nothing is cut."""
    for name, message in too_long(values).items():
        r["problems"].append(f"{message} Ici : {len(values[name])} caractères. Rien n'est tronqué : corrigez le fichier.")
        r["kinds"].add("error")
    for cohort in r["cohorts"]:
        if len(cohort) > COHORT_NAME_MAX:
            r["problems"].append(f"Le nom de cohorte « {_fit(cohort, 40)} » ne peut pas dépasser {COHORT_NAME_MAX} "
                                 f"caractères. Ici : {len(cohort)} caractères.")
            r["kinds"].add("error")


def _check_names(r: dict, code: str) -> None:
    """A first and a last name, with letters enough for the username (its base, before any suffix)."""
    first, last = r["first_name"], r["last_name"]
    if not first:
        r["problems"].append("Prénom manquant.")
        r["kinds"].add("error")
    if not last:
        r["problems"].append("Nom de famille manquant.")
        r["kinds"].add("error")
    if first and last:
        first_slug, last_slug = name_slug(first), name_slug(last)  # once each: 20,000 rows
        if first_slug and last_slug:
            r["base"] = username_of_slugs(code, first_slug, last_slug)
        else:
            r["problems"].append("Le prénom ou le nom ne contient aucune lettre utilisable pour le nom "
                                 "d'utilisateur (code.initiale.nom) : créez ce compte à la main.")
            r["kinds"].add("error")


# -- what the database knows of the rows --------------------------------------------------------
@dataclass
class _Known:
    """What the database says of the file's rows (a few queries, whatever the number of rows), and
    what the rows already analysed have taken."""

    existing: dict[tuple[str, str], list[dict]]  # (email|matricule, value) -> accounts holding it
    manageable: set[int]  # of those accounts, the ones the caller may manage
    used: set[str]  # usernames taken under the establishment's prefix
    same_name: dict[tuple[str, str], str]  # (first, last) folded -> an account in scope bearing it
    memberships: dict[int, set[str]]  # account -> its cohorts in the establishment
    first_seen: dict[tuple[str, str], int] = field(default_factory=dict)  # (key, value) -> first line
    claimed: dict[int, int] = field(default_factory=dict)  # existing account -> the line that matched it first
    named: dict[tuple[str, str], int] = field(default_factory=dict)  # (first, last) folded -> first line


async def _what_is_known(user: CurrentUser, establishment: dict, analysed: list[dict]) -> _Known:
    existing = await _existing_accounts(analysed, establishment["id"])
    manageable = await manageable_user_ids(user, [a["id"] for found in existing.values() for a in found])
    used = await _usernames_with_prefix(f"{establishment['code'].lower()}.")
    return _Known(existing, manageable, used, await _same_name_accounts(user, analysed),
                  await _memberships(manageable, establishment["id"]))


async def _same_name_accounts(user: CurrentUser, analysed: list[dict]) -> dict[tuple[str, str], str]:
    """Accounts we manage that bear the same name as a row with neither e-mail nor matricule: the
    only rows whose identity cannot be told from the file."""
    unidentified = {(fold(r["first_name"]), fold(r["last_name"])) for r in analysed
                    if r["base"] and not r["email"] and not r["matricule"]}
    same_name: dict[tuple[str, str], str] = {}
    if unidentified:
        scope = await establishment_scope(user)
        where = scope.users_where()
        clause = User.last_name_key.is_in(sorted({k[1] for k in unidentified}))
        for account in await User.select(User.username, User.first_name_key, User.last_name_key).where(
                clause if where is None else clause & where):
            same_name.setdefault((account["first_name_key"], account["last_name_key"]), account["username"])
    return same_name


async def _memberships(manageable: set[int], establishment_id: int) -> dict[int, set[str]]:
    memberships: dict[int, set[str]] = defaultdict(set)
    in_scope_ids = sorted(manageable)
    if in_scope_ids:
        for m in await CohortMember.select(CohortMember.user, CohortMember.cohort.name.as_alias("name")).where(
                CohortMember.user.is_in(in_scope_ids) & (CohortMember.cohort.establishment == establishment_id)):
            memberships[m["user"]].add(m["name"])
    return memberships


# -- the rules, one row after the other ---------------------------------------------------------
def _same_person_as_an_earlier_row(r: dict, known: _Known) -> None:
    """Same e-mail or matricule as an earlier row."""
    for key in ("email", "matricule"):
        if r[key]:
            earlier = known.first_seen.setdefault((key, r[key]), r["line"])
            if earlier != r["line"] and "same_person" not in r["kinds"]:
                r["problems"].append(f"Même personne que la ligne {earlier} ({LABELS[key]}) : une personne n'a "
                                     "qu'un compte, cette ligne ne sera pas importée.")
                r["kinds"].add("same_person")


def _same_person_as_an_account(r: dict, known: _Known) -> None:
    """Same e-mail or matricule as an existing account: one out of scope, two different ones, or
    one an earlier row matched make the row an error; else the row may update that account."""
    kinds, problems = r["kinds"], r["problems"]
    matches = {key: known.existing.get((key, r[key]), []) for key in ("email", "matricule") if r[key]}
    accounts = {a["id"]: a for found in matches.values() for a in found}
    if not accounts or kinds & {"same_person"}:
        return
    if any(account_id not in known.manageable for account_id in accounts):
        problems.append(FOREIGN_MESSAGE)
        kinds.add("foreign")
    elif len(accounts) > 1:
        problems.append("L'adresse de courriel et le matricule correspondent à des comptes différents ("
                        + ", ".join(sorted(a["username"] for a in accounts.values()))
                        + ") : ligne non importable telle quelle.")
        kinds.add("two_accounts")
    elif next(iter(accounts)) in known.claimed:
        problems.append(f"Même personne que la ligne {known.claimed[next(iter(accounts))]} (le même compte "
                        "existant) : cette ligne ne sera pas importée.")
        kinds.add("same_person")
    else:
        (account,) = accounts.values()
        known.claimed[account["id"]] = r["line"]
        key = "email" if matches.get("email") else "matricule"
        problems.append(f"Un compte existe déjà avec {LABELS[key]} : {account['username']} "
                        f"({account['establishment_code'] or 'sans établissement'}).")
        kinds.add("existing")
        r["existing_user"] = account["id"]
        r["username"] = account["username"]
        r["account"] = account


def _describe_update(r: dict, known: _Known, establishment: dict, password_usable: bool) -> None:
    if not r["kinds"] & BLOCKING:
        added = [c for c in r["cohorts"] if c not in known.memberships[r["existing_user"]]]
        r["problems"].append(_update_summary(r, r["account"], added, establishment, password_usable,
                                             bool(r["password"]) and not password_usable))


def _check_password(r: dict, password_usable: bool) -> None:
    """A new account's password: the file's, or one generated and mailed — so an address or a
    password that follows the policy is needed."""
    kinds, problems = r["kinds"], r["problems"]
    if not r["email"] and not r["password"]:
        problems.append(
            "Ni adresse de courriel ni mot de passe : le mot de passe généré ne pourrait pas lui être envoyé. "
            "Saisissez un mot de passe dans le fichier et communiquez-le vous-même.")
        kinds.add("error")
    elif r["password"] and not password_usable:
        if r["email"]:
            problems.append("Mot de passe trop faible : s'il est importé, un mot de passe sera généré et "
                            "envoyé par courriel.")
            kinds.add("weak")
        else:
            problems.append(f"Mot de passe trop faible ({policy_error(r['password'])}) et pas d'adresse de "
                            "courriel.")
            kinds.add("error")


def _username_for_a_new_account(r: dict, known: _Known) -> None:
    """The next free username for a row that may create an account, and a warning when nothing
    tells it from a row or an account of the same name."""
    kinds, problems = r["kinds"], r["problems"]
    if not r["base"] or kinds & (BLOCKING | {"existing"}):
        return
    name = (fold(r["first_name"]), fold(r["last_name"]))
    if not r["email"] and not r["matricule"] and (name in known.named or name in known.same_name):
        other = f"la ligne {known.named[name]}" if name in known.named else f"le compte {known.same_name[name]}"
        problems.append(f"Même prénom et même nom que {other}, sans adresse de courriel ni matricule pour les "
                        "distinguer : « Créer le compte » en fait une autre personne.")
        kinds.add("unsure")
    r["username"] = next_free(r["base"], known.used)
    known.used.add(r["username"])
    if r["username"] != r["base"]:
        problems.append(f"Homonyme : {r['base']} est déjà pris, le compte sera {r['username']}.")
    known.named.setdefault(name, r["line"])


def _decide(r: dict, password_usable: bool) -> None:
    """The decisions the row offers, its status, and the decision it starts with."""
    kinds = r["kinds"]
    r["allowed"] = _allowed(kinds, password_usable)
    r["status"] = "error" if kinds & BLOCKING else ("problem" if kinds & {"existing", "weak", "unsure"} else "ok")
    # Problem rows start as "skip": nothing happens to them unless the GET decides otherwise.
    r["decision"] = "create" if r["status"] == "ok" else "skip"
