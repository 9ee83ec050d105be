"""The organisations a requester picks (step 3) or types when not found: search, close match,
and the "non référencé" organisation stored for a manager to review; the reference lists' choices."""

from __future__ import annotations

from app.services.accounts import normalise_email
from app.services.registration.forms import OrganisationForm
from app.services.text import contains, loose, loose_search_text, search
from app.tables.registration import Organisation, RefItem, RegistrationRequest


async def choices(kind: str) -> list[tuple[str, str]]:
    rows = await RefItem.select(RefItem.id, RefItem.label).where(
        (RefItem.kind == kind) & (RefItem.hidden == False)).order_by(RefItem.position)  # noqa: E712
    return [(str(r["id"]), r["label"]) for r in rows]


PENDING_MARK = "(en attente de vérification)"  # an organisation typed by a requester, not reviewed yet


def offered():
    """The organisations a requester may pick: every one, referenced or still waiting for review
    (so nobody types again the one a colleague typed yesterday), but neither hidden nor merged."""
    return (Organisation.hidden == False) & Organisation.merged_into.is_null()  # noqa: E712


async def search_organisations(q: str) -> list[dict]:
    """The wizard's search (step 3): accent-, case- and hyphen-insensitive on every database."""
    query = Organisation.select(Organisation.id, Organisation.name, Organisation.postal_code, Organisation.city,
                                Organisation.referenced).where(offered()).order_by(Organisation.name).limit(20)
    clause = search(Organisation.search_text, loose(q))
    if clause is not None:
        query = query.where(clause)
    return await query


async def close_organisation(name: str, postal_code: str, city: str, exclude: int | None = None) -> dict | None:
    """An organisation a requester is about to type again: the same name (folded, punctuation
    aside) in the same postal code or city. The referenced one first."""
    key, town = loose(name), loose(city)
    if not key:
        return None
    where = Organisation.postal_code == postal_code
    if town:
        where = where | contains(Organisation.search_text, town)
    query = Organisation.select(Organisation.id, Organisation.name, Organisation.postal_code, Organisation.city,
                                Organisation.referenced).where(offered() & where).order_by(
        Organisation.referenced, ascending=False).order_by(Organisation.id)
    if exclude:
        query = query.where(Organisation.id != exclude)
    for row in await query:
        same_place = (postal_code and row["postal_code"] == postal_code) or (town and loose(row["city"]) == town)
        if same_place and loose(row["name"]) == key:
            return row
    return None


async def save_typed_organisation(draft: dict, form: OrganisationForm) -> int:
    """The organisation a requester could not find, stored "non référencé" for a manager to review.
    Going back to this step and sending it again corrects it rather than adding another."""
    values = {Organisation.name: form.org_name[:255], Organisation.postal_code: form.org_postal_code,
              Organisation.city: form.org_city[:100], Organisation.validation_email: normalise_email(form.org_email),
              Organisation.search_text: loose_search_text(form.org_name[:255], form.org_postal_code, form.org_city[:100])}
    own = draft.get("organisation")
    if own:
        reusable = await Organisation.exists().where((Organisation.id == own) & (Organisation.referenced == False))  # noqa: E712
        others = await RegistrationRequest.exists().where(
            (RegistrationRequest.organisation == own) & (RegistrationRequest.id != draft["id"]))
        if reusable and not others:
            await Organisation.update(values).where(Organisation.id == own)
            return own
    row = await Organisation.insert(Organisation(**{c._meta.name: v for c, v in values.items()}, referenced=False)).returning(
        Organisation.id)
    return row[0]["id"]
