"""The form of « Créer une session de formation » (SPEC B2) and of the session's settings page.

The rules of a single field are declared here (app/validation.py); sessions/validate.py keeps those
that need the database or other fields: the names (defaulted from the dates and the template), seats
and minimum attendance (kept as typed, « 50 % » included), the certificate text (its placeholders first).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from app.services.sessions.manage import CODE_RE
from app.services.text import Multiline
from app.tables.catalogue import Delivery
from app.validation import IntRange, MaxLen, OneOf, Pattern

CODE_MESSAGE = "Code de session invalide : année sur 2 chiffres, code catalogue, S, numéro (ex. 26C03S1)."
URL_RE = r"^https?://[^\s/]+\.[^\s]+$"


@dataclass
class SessionForm:
    """« Créer une session de formation » (SPEC B2) and the session's settings page."""

    template: int | None = None
    start_date: date | None = None
    end_date: date | None = None
    full_name: str = ""
    short_name: str = ""
    establishment: int | None = None
    visible: bool = False
    id_number: Annotated[str, MaxLen(100, "Le numéro d'identification")] = ""
    code: Annotated[str, Pattern(CODE_RE, CODE_MESSAGE)] = ""
    seats: str = ""
    # The certificate's text (D3), on the settings page only: None when the form has no such field.
    certificate_text: Multiline | None = None
    # Time slots and place (issue 12), also on the settings page only.
    slots: Multiline | None = None
    place: Annotated[Multiline | None, MaxLen(1000, message="Le lieu ne peut pas dépasser 1000 caractères.")] = None
    remote_url: Annotated[str | None, Pattern(URL_RE, "Le lien de la session à distance doit être une adresse web (https://…)."),
                          MaxLen(500, "Le lien")] = None
    contact: Annotated[str | None, MaxLen(255, "Le contact")] = None
    # Convocations (issue 12, X2), settings page only: « À apporter », and whether to send them
    # automatically on enrolment (None: the field is not on the form posted).
    what_to_bring: Annotated[Multiline | None, MaxLen(
        2000, message="La liste « À apporter » ne peut pas dépasser 2000 caractères.")] = None
    auto_convocations: bool | None = None
    # « Cofinancée par le FSE » (issue 25), settings page only: its evidence is kept longer.
    fse_cofinanced: bool | None = None
    # « Présence minimale (%) » (issue 12), settings page only: "" for the platform's, "0" for none.
    min_attendance: str | None = None
    # « Délai d'émargement après la fin d'un créneau (minutes) » (issue 22), settings page only: how long
    # after a slot's end it can still be signed (None: the field is not on the form, or left empty).
    signing_grace: Annotated[int | None, IntRange(
        0, 240, "Le délai d'émargement est un nombre entier de minutes, de 0 à 240.")] = None
    # « Réalisation (BPF) » (issue 23), settings page only: who delivers the session (frames F-2 and G).
    delivery: Annotated[str | None, OneOf(tuple(d.value for d in Delivery), "Choisissez une réalisation de la liste.",
                                          required=False)] = None
    # The answers of the confirmation step (issue 20): whether to tell the learners of a change of what
    # they were told, and to rename a session whose name states its old dates (None: not asked yet).
    notify: bool | None = None
    rename: bool | None = None

    def __post_init__(self) -> None:
        self.code = self.code.strip().upper()
        # A browser posts a textarea's lines with CRLF: stored as typed, an unchanged place looked changed
        # on every save (and mailed every convoked learner an « update », issue 20).
        for name in ("place", "what_to_bring"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value.replace("\r\n", "\n").replace("\r", "\n"))
