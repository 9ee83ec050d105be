"""E-mails compare case-insensitively: every stored address lower-cased, as the app now writes them
(app.services.accounts.normalise_email: stripped, ``str.lower``; done in Python, not with SQL
``lower()``, whose result depends on the database's locale).

Accounts are never merged or deleted: people whose addresses only differed by case now share one.
They are printed (e-mail and usernames) for a person to review in "Gérer mes utilisateurs"; the
migration does not fail for them (e-mail is not unique on accounts).
"""

from collections import defaultdict

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T13:10:10:000000"
VERSION = "1.38.0"
DESCRIPTION = "E-mails stored lower-cased (accounts, registration requests, organisations, settings)"

# (table, key column, e-mail column)
COLUMNS = [
    ("app_user", "id", "email"),
    ("registration_request", "id", "email"),
    ("organisation", "id", "validation_email"),
    ("import_row", "id", "email"),
]
SETTING_KEYS = ("disability_email", "operator_copy_email")


def _normalise(value):
    return (value or "").strip().lower()


def would_be_duplicates(rows: list[dict]) -> dict[str, list[str]]:
    """Lower-cased address -> usernames, for the accounts that only differed by the case of it."""
    spellings, usernames = defaultdict(set), defaultdict(list)
    for row in rows:
        if row["email"]:
            key = _normalise(row["email"])
            spellings[key].add(row["email"])
            usernames[key].append(row["username"])
    return {key: sorted(usernames[key]) for key in sorted(spellings) if len(spellings[key]) > 1}


async def lower_case_emails() -> dict[str, list[str]]:
    from app.tables.accounts import User

    if User._meta.db.engine_type != "postgres":
        return {}  # the embedded SQLite is created from the tables, with nothing to convert
    duplicates = would_be_duplicates(await User.raw("SELECT id, username, email FROM app_user"))
    for table, key, column in COLUMNS:
        rows = await User.raw(f"SELECT {key} AS id, {column} AS email FROM {table}")
        changed = [(r["id"], _normalise(r["email"])) for r in rows if r["email"] != _normalise(r["email"])]
        if changed:
            await User.raw(
                f"UPDATE {table} SET {column} = v.email FROM "
                "(SELECT unnest({}::integer[]) AS id, unnest({}::text[]) AS email) AS v "
                f"WHERE {table}.{key} = v.id",
                [c[0] for c in changed],
                [c[1] for c in changed],
            )
    for setting in SETTING_KEYS:
        for row in await User.raw("SELECT value FROM platform_setting WHERE key = {}", setting):
            if row["value"] != _normalise(row["value"]):
                await User.raw("UPDATE platform_setting SET value = {} WHERE key = {}", _normalise(row["value"]), setting)
    if duplicates:
        print(
            f"Adresses de courriel mises en minuscules : {len(duplicates)} adresse(s) désormais partagée(s) par "
            "des comptes qui ne différaient que par la casse (rien n'est fusionné ni supprimé, à vérifier) :"
        )
        for email, names in duplicates.items():
            print(f"  {email} : {', '.join(names)}")
    return duplicates


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tremplin", description=DESCRIPTION)

    async def run():
        await lower_case_emails()

    manager.add_raw(run)
    return manager
