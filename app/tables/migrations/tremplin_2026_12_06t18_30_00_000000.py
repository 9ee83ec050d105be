"""One active account per real e-mail address, case-insensitively (issue 19): a unique index on
lower(email), partial — deactivated accounts and fictitious addresses (username.fictif@…, unique by
their username) are left out.

A database where two active accounts already share an address cannot take the index. The migration
then stops, changing nothing, and lists them: which account to keep is a person's decision (their
enrolments and certificates hang on it), not a migration's. Deactivating the extra account, or
giving it another address, lets the migration run.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-06T18:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Unique index on lower(app_user.email) for active accounts with a real address"

# Frozen here (app/tables/constraints.py holds the current one, for SQLite's table creation).
WHERE = "deactivated_at IS NULL AND email <> '' AND email NOT LIKE '%.fictif@%'"
INDEX = f"CREATE UNIQUE INDEX IF NOT EXISTS app_user_email_unique ON app_user (lower(email)) WHERE {WHERE}"
SHOWN = 50


class DuplicateEmails(RuntimeError):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tremplin", description=DESCRIPTION)

    async def run():
        from app.tables.accounts import User

        duplicates = await User.raw(
            "SELECT lower(email) AS email, string_agg(id::text || ' (' || username || ')', ', ' ORDER BY id) AS accounts "
            f"FROM app_user WHERE {WHERE} GROUP BY lower(email) HAVING count(*) > 1 ORDER BY lower(email)")
        if duplicates:
            lines = "\n".join(f"  {d['email']} : comptes {d['accounts']}" for d in duplicates[:SHOWN])
            more = f"\n  … et {len(duplicates) - SHOWN} autre(s) adresse(s)" if len(duplicates) > SHOWN else ""
            raise DuplicateEmails(
                f"Migration {ID} impossible : {len(duplicates)} adresse(s) de courriel sont celles de plusieurs "
                f"comptes actifs (une personne ne doit avoir qu'un compte) :\n{lines}{more}\n"
                "Pour chaque adresse, gardez un compte et désactivez les autres (Utilisateurs → Supprimer : un "
                "compte avec un historique de formation est désactivé, jamais effacé) ou donnez-leur une autre "
                "adresse, puis relancez « tremplin migrate ». Rien n'a été modifié.")
        await User.raw(INDEX)

    async def run_backwards():
        from app.tables.accounts import User

        await User.raw("DROP INDEX IF EXISTS app_user_email_unique")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
