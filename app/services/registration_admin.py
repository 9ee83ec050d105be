"""The back office of online registration (seed 003): reference lists (SPEC F4) and settings (F5)."""

from __future__ import annotations

import re
from dataclasses import dataclass

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


@dataclass
class ItemForm:
    label: str = ""
    item_id: int | None = None  # set: rename this entry


@dataclass
class OrganisationForm:
    name: str = ""
    kind: int | None = None
    postal_code: str = ""
    city: str = ""
    validation_email: str = ""
    referenced: bool = False
    under_agreement: bool = False


@dataclass
class SettingsForm:
    disability_email: str = ""
    operator_copy_email: str = ""
    cgv_text: str = ""
    test_mode: bool = False


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


async def save_item(kind: str, form: ItemForm) -> int:
    """Add an entry, or rename ``form.item_id``."""
    kind_label(kind)
    label = form.label
    if not label:
        raise ValidationFailed({"label": "Le libellé est obligatoire."})
    if len(label) > 255:
        raise ValidationFailed({"label": "Le libellé est trop long (255 caractères au plus)."})
    clash = RefItem.exists().where((RefItem.kind == kind) & (RefItem.label == label))
    if form.item_id:
        clash = clash.where(RefItem.id != form.item_id)
    if await clash:
        raise ValidationFailed({"label": f"« {label} » existe déjà dans cette liste."})
    if form.item_id:
        await _item(kind, form.item_id)
        await RefItem.update({RefItem.label: label}).where(RefItem.id == form.item_id)
        return form.item_id
    position = await RefItem.count().where(RefItem.kind == kind)
    row = await RefItem.insert(RefItem(kind=kind, label=label, position=position)).returning(RefItem.id)
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


async def save_organisation(form: OrganisationForm, org_id: int | None = None) -> int:
    errors = {}
    email = normalise_email(form.validation_email)
    if not form.name:
        errors["name"] = "Le nom est obligatoire."
    elif len(form.name) > 255:
        errors["name"] = "Le nom est trop long (255 caractères au plus)."
    if form.postal_code and not POSTAL_RE.match(form.postal_code):
        errors["postal_code"] = "Code postal : 5 chiffres."
    if len(form.city) > 100:
        errors["city"] = "Le nom de la ville est trop long (100 caractères au plus)."
    if email and not EMAIL_RE.match(email):
        errors["validation_email"] = "Adresse de courriel invalide."
    if form.kind is not None and not await RefItem.exists().where(
            (RefItem.id == form.kind) & (RefItem.kind == "establishment_type")):
        errors["kind"] = "Choisissez un type d'établissement de la liste."
    if errors:
        raise ValidationFailed(errors)
    values = {
        Organisation.name: form.name, Organisation.postal_code: form.postal_code, Organisation.city: form.city,
        Organisation.validation_email: email, Organisation.kind: form.kind,
        Organisation.referenced: form.referenced, Organisation.under_agreement: form.under_agreement,
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


async def save_settings(form: SettingsForm) -> None:
    errors = {}
    for key in ("disability_email", "operator_copy_email"):
        value = getattr(form, key)
        if value and not EMAIL_RE.match(normalise_email(value)):
            errors[key] = "Adresse de courriel invalide."
    if errors:
        raise ValidationFailed(errors)
    await outbox.set_setting("disability_email", normalise_email(form.disability_email))
    await outbox.set_setting("operator_copy_email", normalise_email(form.operator_copy_email))
    await outbox.set_setting("cgv_text", form.cgv_text)
    await outbox.set_setting("test_mode", "1" if form.test_mode else "0")
