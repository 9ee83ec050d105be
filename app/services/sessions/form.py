"""The form of « Créer une session de formation » (SPEC B2) and of the session's settings page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.services.text import Multiline


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
    id_number: str = ""
    code: str = ""
    seats: str = ""
    # The certificate's text (D3), on the settings page only: None when the form has no such field.
    certificate_text: Multiline | None = None
    # Time slots and place (issue 12), also on the settings page only.
    slots: Multiline | None = None
    place: Multiline | None = None
    remote_url: str | None = None
    contact: str | None = None
    # Convocations (issue 12, X2), settings page only: « À apporter », and "1"/"0" for sending them
    # automatically on enrolment.
    what_to_bring: Multiline | None = None
    auto_convocations: str | None = None
    # « Présence minimale (%) » (issue 12), settings page only: "" for the platform's, "0" for none.
    min_attendance: str | None = None
    # The answers of the confirmation step (issue 20): "1"/"0" to tell the learners of a change of what
    # they were told (None: not asked yet), and to rename a session whose name states its old dates.
    notify: str | None = None
    rename: str | None = None

    def __post_init__(self) -> None:
        self.code = self.code.strip().upper()
        # A browser posts a textarea's lines with CRLF: stored as typed, an unchanged place looked changed
        # on every save (and mailed every convoked learner an « update », issue 20).
        for name in ("place", "what_to_bring"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value.replace("\r\n", "\n").replace("\r", "\n"))
