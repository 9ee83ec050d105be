"""What the steps of the CSV import share: the decisions a row may take, the columns written in
bulk, the refusal of a file, and the usernames already taken under an establishment's prefix."""

from __future__ import annotations

from app.services.errors import DomainError
from app.services.text import starts_with
from app.tables.accounts import User
from app.tables.imports import ImportRow

INSERT_CHUNK = 500
# Every creation takes the next free suffix (a homonym's alp001.l.morel2), so there is no
# separate "create with a suffix": a row that is the same person as another row or as an existing
# account can only be skipped, or update that account. An update changes the first and last
# names, and the e-mail and matricule the file gives; it keeps the password unless the GET chooses
# "update_password" (the file's password, when it follows the policy; change forced).
DECISION_LABELS = {
    "create": "Créer le compte",
    "skip": "Ignorer la ligne",
    "update": "Mettre à jour (mot de passe conservé)",
    "update_password": "Mettre à jour + mot de passe du fichier",
}
CREATE_DECISIONS = ("create", "suffix")  # "suffix": batches previewed before suffixes were automatic
UPDATE_DECISIONS = ("update", "update_password")
ROW_COLUMNS = [
    ImportRow.batch, ImportRow.line, ImportRow.first_name, ImportRow.last_name, ImportRow.password, ImportRow.email,
    ImportRow.matricule, ImportRow.cohorts, ImportRow.username, ImportRow.status, ImportRow.problems,
    ImportRow.existing_user, ImportRow.existing_in_scope, ImportRow.decision, ImportRow.allowed, ImportRow.outcome,
    ImportRow.outcome_message,
]
USER_COLUMNS = [
    User.username, User.password_hash, User.first_name, User.last_name, User.email, User.establishment, User.status,
    User.matricule, User.is_suspended, User.force_password_change, User.search_text, User.last_name_key,
    User.first_name_key, User.created_at,
]



class ImportRejected(DomainError):
    status_code = 422



async def _usernames_with_prefix(prefix: str) -> set[str]:
    rows = await User.select(User.username).where(starts_with(User.username, prefix))
    return {r["username"] for r in rows}
