"""The typed forms of online registration, parsed by the controllers (app/http/forms.py): the
wizard's steps, its navigation, the follow form and the back office's action form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from app.services.text import Multiline
from app.validation import OneOf, Pattern, Required

POSTAL_RE = re.compile(r"^[0-9]{5}$")
PHONE_RE = re.compile(r"^[0-9 +().-]{10,20}$")


# -- typed forms (parsed by the controllers, app/http/forms.py) -----------------------------------
@dataclass
class StartForm:
    code: str = ""
    action: str = "new"  # new, login, resume, follow


@dataclass
class FundingForm:
    funding: int | None = None


@dataclass
class OrganisationForm:
    organisation: int | None = None
    use_existing: int | None = None  # "Oui, c'est ma collectivité": the close match proposed
    create_anyway: bool = False  # "Non, c'est une autre collectivité"
    not_found: bool = False
    org_name: str = ""
    org_postal_code: str = ""
    org_city: str = ""
    org_email: str = ""


@dataclass
class TraineeForm:
    civility: Annotated[str, OneOf(("M.", "Mme"), "Choisissez votre civilité.")] = ""
    first_name: Annotated[str, Required("Le prénom est obligatoire.")] = ""
    last_name: Annotated[str, Required("Le nom de famille est obligatoire.")] = ""
    email: str = ""  # normalised, then checked with its confirmation (steps.py)
    email_confirm: str = ""
    postal_code: Annotated[str, Pattern(POSTAL_RE, "Code postal : 5 chiffres.", required=True)] = ""
    phone: Annotated[str, Pattern(PHONE_RE, "Numéro de téléphone invalide.")] = ""
    expectations: Multiline = ""


@dataclass
class MandateForm:
    mandate: int | None = None
    mandate_year: str = ""


@dataclass
class DietaryForm:
    dietary: str = ""
    dietary_details: Multiline = ""


@dataclass
class DisabilityForm:
    disability: bool = False


@dataclass
class ConsentsForm:
    consent_carpool: str = ""
    consent_mailing: str = ""
    consent_image: str = ""


@dataclass
class TermsForm:
    cgv: bool = False


STEP_FORMS = {2: FundingForm, 3: OrganisationForm, 4: TraineeForm, 5: MandateForm, 6: DietaryForm,
              7: DisabilityForm, 8: ConsentsForm, 9: TermsForm}


@dataclass
class Navigation:
    """The wizard's buttons: go = next, previous, cancel or search (with ``q``)."""

    go: str = "next"
    q: str = ""


@dataclass
class FollowForm:
    email: str = ""
    reference: str = ""


@dataclass
class ActionForm:
    reason: str = ""
    # Step 6 while the BI never left (held for an unreviewed organisation, no address, not sent yet):
    # the manager confirms it explicitly (the signed BI came another way).
    bi_never_sent: bool = False
