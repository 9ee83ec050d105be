"""The back office of online registration (seed 003): reference lists (SPEC F4) and settings (F5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from piccolo.query.functions.aggregate import Count

from app import db
from app.services import outbox
from app.services.accounts import EMAIL_RE, normalise_email
from app.dates import now
from app.services.errors import DomainError, NotFound, ValidationFailed
from app.services.roles import CurrentUser
from app.services.registration.forms import POSTAL_RE
from app.services.text import Multiline, loose, loose_search_text, search, starts_with
from app.tables.registration import Organisation, RefItem, RegistrationRequest, RequestEvent
from app.validation import MaxLen, Pattern, Required, declared_errors

REF_KINDS = {
    "establishment_type": ("Types d'établissement", "Type d'établissement"),
    "candidate_state": ("États du candidat", "État du candidat (mandat, statut)"),
    "funding_method": ("Méthodes de financement", "Méthode de financement"),
}
SETTINGS = {
    "operator_name": "Nom de l'opérateur",
    "disability_email": "Adresse du contact handicap",
    "cgv_text": "Conditions générales",
    "operator_copy_email": "Adresse de copie de l'opérateur",
    "test_mode": "Mode test",
}


@dataclass
class ItemForm:
    label: Annotated[str, Required("Le libellé est obligatoire."),
                     MaxLen(255, message="Le libellé est trop long (255 caractères au plus).")] = ""
    item_id: int | None = None  # set: rename this entry


@dataclass
class OrganisationForm:
    name: Annotated[str, Required("Le nom est obligatoire."),
                    MaxLen(255, message="Le nom est trop long (255 caractères au plus).")] = ""
    kind: int | None = None
    postal_code: Annotated[str, Pattern(POSTAL_RE, "Code postal : 5 chiffres.")] = ""
    city: Annotated[str, MaxLen(100, message="Le nom de la ville est trop long (100 caractères au plus).")] = ""
    validation_email: str = ""
    referenced: bool = False
    under_agreement: bool = False


@dataclass
class MergeForm:
    duplicate: list[int] = field(default_factory=list)
    q: str = ""


@dataclass
class SettingsForm:
    operator_name: Annotated[str, MaxLen(
        120, message="Le nom de l'opérateur est trop long (120 caractères au plus).")] = ""
    disability_email: Annotated[str, MaxLen(254, "L'adresse de courriel")] = ""
    operator_copy_email: Annotated[str, MaxLen(254, "L'adresse de courriel")] = ""
    cgv_text: Multiline = ""
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
    if errors := declared_errors(form):
        raise ValidationFailed(errors)
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
    errors = declared_errors(form)
    email = normalise_email(form.validation_email)
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
    values[Organisation.search_text] = loose_search_text(form.name, form.postal_code, form.city)
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
    row = await organisation(org_id)
    used = await RegistrationRequest.count().where(RegistrationRequest.organisation == org_id)
    if used:
        raise DomainError(f"« {row['name']} » est utilisé par {used} demande(s) d'inscription : il ne peut pas être supprimé.")
    await Organisation.delete().where(Organisation.id == org_id)
    return row


# -- merging duplicates ----------------------------------------------------------------------------
MERGE_CANDIDATES = 50


async def _request_counts(org_ids: list[int]) -> dict[int, int]:
    if not org_ids:
        return {}
    rows = await RegistrationRequest.select(RegistrationRequest.organisation, Count(RegistrationRequest.id, alias="n")).where(
        RegistrationRequest.organisation.is_in(org_ids)).group_by(RegistrationRequest.organisation)
    return {r["organisation"]: r["n"] for r in rows}


async def _kept(keep_id: int) -> dict:
    keep = await organisation(keep_id)
    if keep["merged_into"]:
        raise DomainError(f"« {keep['name']} » a déjà été fusionné dans un autre établissement : gardez celui-là.")
    return keep


async def merge_candidates(keep_id: int, q: str = "") -> tuple[dict, list[dict]]:
    """The organisation kept and the ones that may be merged into it: those matching ``q``, or by
    default the likely duplicates (same name, punctuation and accents aside, or same postal code).
    Each with how many registration requests point at it."""
    keep = await _kept(keep_id)
    query = Organisation.select(Organisation.id, Organisation.name, Organisation.postal_code, Organisation.city,
                                Organisation.validation_email, Organisation.referenced, Organisation.hidden).where(
        Organisation.merged_into.is_null() & (Organisation.id != keep_id)).order_by(Organisation.name).limit(
        MERGE_CANDIDATES)
    clause = search(Organisation.search_text, loose(q))
    if clause is not None:
        query = query.where(clause)
    else:
        name = loose(keep["name"])
        same = starts_with(Organisation.search_text, name) if name else None
        if keep["postal_code"]:
            same = (same | (Organisation.postal_code == keep["postal_code"])) if same is not None else (
                Organisation.postal_code == keep["postal_code"])
        if same is None:
            return keep, []
        query = query.where(same)
    rows = await query
    counts = await _request_counts([keep_id, *(r["id"] for r in rows)])
    keep["requests"] = counts.get(keep_id, 0)
    for row in rows:
        row["requests"] = counts.get(row["id"], 0)
    return keep, rows


async def merge_plan(keep_id: int, duplicate_ids: list[int]) -> tuple[dict, list[dict]]:
    """The kept organisation and the duplicates chosen, checked, with their request counts."""
    keep = await _kept(keep_id)
    ids = sorted({i for i in duplicate_ids if i and i != keep_id})
    if not ids:
        raise ValidationFailed({"duplicate": "Cochez au moins un doublon à fusionner dans cet établissement."})
    rows = await Organisation.select(Organisation.id, Organisation.name, Organisation.postal_code, Organisation.city,
                                     Organisation.referenced).where(
        Organisation.id.is_in(ids) & Organisation.merged_into.is_null()).order_by(Organisation.name)
    if len(rows) != len(ids):
        raise NotFound("Établissement introuvable ou déjà fusionné.")
    counts = await _request_counts(ids)
    for row in rows:
        row["requests"] = counts.get(row["id"], 0)
    return keep, rows


async def merge_organisations(actor: CurrentUser, keep_id: int, duplicate_ids: list[int]) -> tuple[dict, list[dict], int]:
    """Merge the duplicates into the organisation kept, in one transaction: every registration
    request (drafts too) moves to it, each with an event saying so (who, when); each duplicate stays,
    hidden, marked ``merged_into`` (and so do those merged into it before). A held bulletin follows
    its request: it leaves when the kept organisation is referenced (``release_held_bulletins``).
    Returns (kept, duplicates, requests moved)."""
    keep, duplicates = await merge_plan(keep_id, duplicate_ids)
    ids = [d["id"] for d in duplicates]
    names = {d["id"]: d["name"] for d in duplicates}
    async with db.transaction():
        locked = await Organisation.update({Organisation.merged_at: now()}).where(
            Organisation.id.is_in(ids) & Organisation.merged_into.is_null()).returning(Organisation.id)
        if len(locked) != len(ids):
            raise DomainError("Un de ces établissements vient d'être fusionné : recommencez.")
        moved = await RegistrationRequest.select(RegistrationRequest.id, RegistrationRequest.status,
                                                 RegistrationRequest.organisation).where(
            RegistrationRequest.organisation.is_in(ids))
        await RegistrationRequest.update({RegistrationRequest.organisation: keep_id}).where(
            RegistrationRequest.organisation.is_in(ids))
        await Organisation.update({Organisation.merged_into: keep_id, Organisation.merged_by: actor.id,
                                   Organisation.hidden: True}).where(Organisation.id.is_in(ids))
        # Those merged into a duplicate before now point at the one kept (no chains).
        await Organisation.update({Organisation.merged_into: keep_id}).where(Organisation.merged_into.is_in(ids))
        if moved:
            await RequestEvent.insert(*[
                RequestEvent(request=m["id"], actor=actor.id, action="Établissement fusionné", from_status=m["status"],
                             to_status=m["status"],
                             note=f"« {names[m['organisation']]} » (doublon) fusionné dans « {keep['name']} ».")
                for m in moved])
    return keep, duplicates, len(moved)


# -- settings (F5) ------------------------------------------------------------------------------
async def settings() -> dict:
    return {key: await outbox.get_setting(key, "0" if key == "test_mode" else "") for key in SETTINGS}


async def save_settings(form: SettingsForm) -> None:
    errors = declared_errors(form)
    for key in ("disability_email", "operator_copy_email"):
        value = getattr(form, key)
        if value and key not in errors and not EMAIL_RE.match(normalise_email(value)):
            errors[key] = "Adresse de courriel invalide."
    if errors:
        raise ValidationFailed(errors)
    await outbox.set_setting("operator_name", " ".join(form.operator_name.split()))
    await outbox.set_setting("disability_email", normalise_email(form.disability_email))
    await outbox.set_setting("operator_copy_email", normalise_email(form.operator_copy_email))
    await outbox.set_setting("cgv_text", form.cgv_text)
    await outbox.set_setting("test_mode", "1" if form.test_mode else "0")
