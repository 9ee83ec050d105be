"""One step of the wizard validated and stored (the step's typed form, forms.STEP_FORMS): one
function per step, each adding to the values to store and the errors to show."""

from __future__ import annotations

from app.dates import today
from app.numbers import to_int
from app.services.accounts import EMAIL_RE, normalise_email
from app.services.errors import ValidationFailed
from app.validation import declared_errors
from app.services.registration.common import YES_NO
from app.services.registration.forms import (
    POSTAL_RE,
    ConsentsForm, DietaryForm, DisabilityForm, FundingForm, MandateForm, OrganisationForm, TermsForm, TraineeForm,
)
from app.services.registration.organisations import choices, close_organisation, offered, save_typed_organisation
from app.tables.registration import Organisation, RegistrationRequest




def _yes_no(value: str) -> str:
    return value if value in YES_NO else ""


async def _funding(draft: dict, form: FundingForm, values: dict, errors: dict[str, str]) -> None:
    allowed = {int(v) for v, _ in await choices("funding_method")}
    if form.funding not in allowed:
        errors["funding"] = "Choisissez une méthode de financement."
    else:
        values[RegistrationRequest.funding] = form.funding


async def _typed_organisation(draft: dict, form: OrganisationForm, values: dict, errors: dict[str, str]) -> None:
    """« Je n'ai pas trouvé ma collectivité »: the organisation typed, unless it is one already known."""
    if not form.org_name:
        errors["org_name"] = "Indiquez le nom de votre collectivité ou établissement."
    if not POSTAL_RE.match(form.org_postal_code):
        errors["org_postal_code"] = "Code postal : 5 chiffres."
    if form.org_email and not EMAIL_RE.match(normalise_email(form.org_email)):
        errors["org_email"] = "Adresse de courriel invalide."
    if not errors and not form.create_anyway:
        match = await close_organisation(form.org_name, form.org_postal_code, form.org_city,
                                         exclude=draft.get("organisation"))
        if match:
            errors["org_match"] = (
                f"« {match['name']} » ({match['postal_code']} {match['city']}) est déjà enregistrée : "
                "choisissez-la, ou indiquez qu'il s'agit d'une autre collectivité.")
    if not errors:
        values[RegistrationRequest.organisation] = await save_typed_organisation(draft, form)


async def _organisation(draft: dict, form: OrganisationForm, values: dict, errors: dict[str, str]) -> None:
    if form.not_found and not form.use_existing:
        await _typed_organisation(draft, form, values, errors)
        return
    chosen = form.use_existing or form.organisation
    ok = chosen and await Organisation.exists().where((Organisation.id == chosen) & offered())
    if not ok:
        errors["organisation"] = "Choisissez votre collectivité dans la liste, ou indiquez que vous ne l'avez pas trouvée."
    else:
        values[RegistrationRequest.organisation] = chosen


async def _trainee(draft: dict, form: TraineeForm, values: dict, errors: dict[str, str]) -> None:
    email, confirm = normalise_email(form.email), normalise_email(form.email_confirm)
    if not EMAIL_RE.match(email):
        errors["email"] = "Adresse de courriel invalide."
    elif email != confirm:
        errors["email_confirm"] = "Les deux adresses de courriel ne correspondent pas."
    values.update({
        RegistrationRequest.civility: form.civility if form.civility in ("M.", "Mme") else "",
        RegistrationRequest.first_name: form.first_name[:100], RegistrationRequest.last_name: form.last_name[:100],
        RegistrationRequest.email: email[:254], RegistrationRequest.postal_code: form.postal_code[:10],
        RegistrationRequest.phone: form.phone[:30], RegistrationRequest.expectations: form.expectations[:4000],
    })


async def _mandate(draft: dict, form: MandateForm, values: dict, errors: dict[str, str]) -> None:
    allowed = {int(v) for v, _ in await choices("candidate_state")}
    year = form.mandate_year
    if form.mandate not in allowed:
        errors["mandate"] = "Choisissez le mandat au titre duquel vous sollicitez cette formation."
    else:
        values[RegistrationRequest.mandate] = form.mandate
    if year and to_int(year, low=1950, high=today().year) is None:
        errors["mandate_year"] = f"Année invalide (entre 1950 et {today().year})."
    values[RegistrationRequest.mandate_year] = year[:4]


async def _dietary(draft: dict, form: DietaryForm, values: dict, errors: dict[str, str]) -> None:
    dietary = _yes_no(form.dietary)
    if not dietary:
        errors["dietary"] = "Répondez par oui ou non."
    elif dietary == "yes" and not form.dietary_details:
        errors["dietary_details"] = "Merci de préciser vos contraintes alimentaires."
    values.update({RegistrationRequest.dietary: dietary,
                   RegistrationRequest.dietary_details: form.dietary_details[:2000] if dietary == "yes" else ""})


async def _disability(draft: dict, form: DisabilityForm, values: dict, errors: dict[str, str]) -> None:
    values[RegistrationRequest.disability] = form.disability


async def _consents(draft: dict, form: ConsentsForm, values: dict, errors: dict[str, str]) -> None:
    for key, column in (("consent_carpool", RegistrationRequest.consent_carpool),
                        ("consent_mailing", RegistrationRequest.consent_mailing),
                        ("consent_image", RegistrationRequest.consent_image)):
        answer = _yes_no(getattr(form, key))
        if not answer:
            errors[key] = "Répondez par oui ou non."
        values[column] = answer


async def _terms(draft: dict, form: TermsForm, values: dict, errors: dict[str, str]) -> None:
    if not form.cgv:
        errors["cgv"] = "Vous devez accepter les conditions générales pour envoyer votre demande."
    values[RegistrationRequest.cgv_accepted] = form.cgv


STEP_RULES = {2: _funding, 3: _organisation, 4: _trainee, 5: _mandate, 6: _dietary, 7: _disability, 8: _consents,
              9: _terms}


async def save_step(draft: dict, step: int, form) -> int:
    """Validate and store one step (``form``: the step's typed form, STEP_FORMS); returns the next
    step. ValidationFailed keeps the typed values."""
    errors: dict[str, str] = declared_errors(form)  # the step form's own field rules
    values: dict = {}
    rule = STEP_RULES.get(step)
    if rule is not None:
        await rule(draft, form, values, errors)
    next_step = min(step + 1, 9)
    if not errors:
        values[RegistrationRequest.step] = max(draft["step"], next_step)
    if values:
        # Typed values are kept even when invalid, so the form shows them again (one UPDATE: the
        # values and, when they are valid, the step reached).
        await RegistrationRequest.update(values).where(RegistrationRequest.id == draft["id"])
    if errors:
        raise ValidationFailed(errors)
    return next_step
