"""The back office of online registration (seed 003): reference lists (SPEC F4) and settings (F5)."""

from __future__ import annotations

import re

from app import db
from app.services import outbox
from app.services.accounts import EMAIL_RE, normalise_email
from app.services.errors import DomainError, NotFound, ValidationFailed
from app.tables.registration import Organisation, RefItem

REF_KINDS = {
    "establishment_type": ("Types d'établissement", "Type d'établissement"),
    "candidate_state": ("États du candidat", "État du candidat (mandat, statut)"),
    "funding_method": ("Méthodes de financement", "Méthode de financement"),
}
SETTINGS = {
    "disability_email": "Adresse du contact handicap",
    "cgv_text": "Conditions générales",
    "operator_copy_email": "Adresse de copie de l'opérateur",
    "test_mode": "Mode test",
}
POSTAL_RE = re.compile(r"^[0-9]{5}$")


def kind_label(kind: str) -> str:
    if kind not in REF_KINDS:
        raise NotFound("Liste inconnue.")
    return REF_KINDS[kind][0]


async def items(kind: str, include_hidden: bool = True) -> list[dict]:
    kind_label(kind)
    query = RefItem.select().where(RefItem.kind == kind).order_by(RefItem.position).order_by(RefItem.id)
    if not include_hidden:
        query = query.where(RefItem.hidden == False)  # noqa: E712
    return await query


async def _item(kind: str, item_id: int) -> dict:
    row = await RefItem.select().where((RefItem.id == item_id) & (RefItem.kind == kind)).first()
    if row is None:
        raise NotFound("Élément introuvable.")
    return row


async def save_item(kind: str, data: dict, item_id: int | None = None) -> int:
    kind_label(kind)
    label = (data.get("label") or "").strip()
    if not label:
        raise ValidationFailed({"label": "Le libellé est obligatoire."})
    clash = RefItem.exists().where((RefItem.kind == kind) & (RefItem.label == label))
    if item_id:
        clash = clash.where(RefItem.id != item_id)
    if await clash:
        raise ValidationFailed({"label": f"« {label} » existe déjà dans cette liste."})
    if item_id:
        await _item(kind, item_id)
        await RefItem.update({RefItem.label: label[:255]}).where(RefItem.id == item_id)
        return item_id
    position = await RefItem.count().where(RefItem.kind == kind)
    row = await RefItem.insert(RefItem(kind=kind, label=label[:255], position=position)).returning(RefItem.id)
    return row[0]["id"]


async def usage(item_id: int) -> int:
    """How many organisations and registration requests use this entry."""
    from app.tables.registration import RegistrationRequest

    return await Organisation.count().where(Organisation.kind == item_id) + await RegistrationRequest.count().where(
        (RegistrationRequest.funding == item_id) | (RegistrationRequest.mandate == item_id))


async def delete_item(kind: str, item_id: int) -> dict:
    row = await _item(kind, item_id)
    used = await usage(item_id)
    if used:
        raise DomainError(f"« {row['label']} » est utilisé par {used} enregistrement(s) : masquez-le plutôt que de le supprimer.")
    await RefItem.delete().where(RefItem.id == item_id)
    return row


async def move_item(kind: str, item_id: int, step: int) -> None:
    """Up (-1) or down (+1): the item swaps with its neighbour; positions become 0..n-1 and only
    the rows whose position changes are written (the two swapped ones, once the list is tidy)."""
    rows = await items(kind)
    ids = [r["id"] for r in rows]
    if item_id not in ids:
        raise NotFound("Élément introuvable.")
    i = ids.index(item_id)
    j = i + step
    if 0 <= j < len(ids):
        ids[i], ids[j] = ids[j], ids[i]
    current = {r["id"]: r["position"] for r in rows}
    async with db.transaction():
        for position, row_id in enumerate(ids):
            if current[row_id] != position:
                await RefItem.update({RefItem.position: position}).where(RefItem.id == row_id)


async def toggle_hidden(kind: str, item_id: int) -> dict:
    row = await _item(kind, item_id)
    await RefItem.update({RefItem.hidden: not row["hidden"]}).where(RefItem.id == item_id)
    return row


# -- organisations ------------------------------------------------------------------------------
async def organisation(org_id: int) -> dict:
    row = await Organisation.select(Organisation.all_columns(), Organisation.kind.label.as_alias("kind_label")).where(
        Organisation.id == org_id).first()
    if row is None:
        raise NotFound("Établissement introuvable.")
    return row


async def save_organisation(data: dict, org_id: int | None = None) -> int:
    errors = {}
    name = (data.get("name") or "").strip()
    postal_code = (data.get("postal_code") or "").strip()
    email = normalise_email(data.get("validation_email"))
    if not name:
        errors["name"] = "Le nom est obligatoire."
    if postal_code and not POSTAL_RE.match(postal_code):
        errors["postal_code"] = "Code postal : 5 chiffres."
    if email and not EMAIL_RE.match(email):
        errors["validation_email"] = "Adresse de courriel invalide."
    kind = None
    if data.get("kind"):
        try:
            kind = int(data["kind"])
        except ValueError:
            kind = None
        if kind is None or not await RefItem.exists().where((RefItem.id == kind) & (RefItem.kind == "establishment_type")):
            errors["kind"] = "Choisissez un type d'établissement de la liste."
    if errors:
        raise ValidationFailed(errors)
    values = {
        Organisation.name: name[:255], Organisation.postal_code: postal_code, Organisation.city: (data.get("city") or "").strip()[:100],
        Organisation.validation_email: email, Organisation.kind: kind,
        Organisation.referenced: bool(data.get("referenced")), Organisation.under_agreement: bool(data.get("under_agreement")),
    }
    if org_id:
        await organisation(org_id)
        await Organisation.update(values).where(Organisation.id == org_id)
        return org_id
    row = await Organisation.insert(Organisation(**{c._meta.name: v for c, v in values.items()})).returning(Organisation.id)
    return row[0]["id"]


async def reference_organisation(org_id: int) -> dict:
    row = await organisation(org_id)
    await Organisation.update({Organisation.referenced: True}).where(Organisation.id == org_id)
    return row


async def delete_organisation(org_id: int) -> dict:
    from app.tables.registration import RegistrationRequest

    row = await organisation(org_id)
    used = await RegistrationRequest.count().where(RegistrationRequest.organisation == org_id)
    if used:
        raise DomainError(f"« {row['name']} » est utilisé par {used} demande(s) d'inscription : il ne peut pas être supprimé.")
    await Organisation.delete().where(Organisation.id == org_id)
    return row


# -- settings (F5) ------------------------------------------------------------------------------
async def settings() -> dict:
    return {key: await outbox.get_setting(key, "0" if key == "test_mode" else "") for key in SETTINGS}


async def save_settings(data: dict) -> None:
    errors = {}
    for key in ("disability_email", "operator_copy_email"):
        value = (data.get(key) or "").strip()
        if value and not EMAIL_RE.match(value):
            errors[key] = "Adresse de courriel invalide."
    if errors:
        raise ValidationFailed(errors)
    await outbox.set_setting("disability_email", normalise_email(data.get("disability_email")))
    await outbox.set_setting("operator_copy_email", normalise_email(data.get("operator_copy_email")))
    await outbox.set_setting("cgv_text", (data.get("cgv_text") or "").strip())
    await outbox.set_setting("test_mode", "1" if data.get("test_mode") else "0")
