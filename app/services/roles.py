"""Roles, the current user as the app sees it, and labels in French."""

from __future__ import annotations

from dataclasses import dataclass, field

ADMIN = "admin"
GED = "ged"
GET = "get"
REGISTRATION_MANAGER = "registration_manager"
REGISTRATION_TESTER = "registration_tester"
LEARNER = "learner"
# Operations (SPEC G2): reads the operations dashboard (/ops), acts on nothing.
OPERATIONS = "operations"
# A session's « Formateur » (issue 22): granted with the first session they train, sees only the
# sessions they train (app/services/trainer_scope.py).
TRAINER = "trainer"

ROLE_LABELS = {
    ADMIN: "Administrateur",
    GED: "GED — gestionnaire de délégation",
    GET: "GET — gestionnaire d'établissement",
    REGISTRATION_MANAGER: "Gestionnaire d'inscriptions locales",
    REGISTRATION_TESTER: "Testeur de l'inscription locale",
    LEARNER: "Apprenant",
    OPERATIONS: "Exploitation",
    TRAINER: "Formateur",
}
# Which roles need a delegation, which an establishment, which neither.
DELEGATION_ROLES = {GED}
ESTABLISHMENT_ROLES = {GET, LEARNER}


@dataclass(frozen=True)
class Grant:
    role: str
    delegation_id: int | None = None
    establishment_id: int | None = None


@dataclass(frozen=True)
class CurrentUser:
    id: int
    username: str
    first_name: str
    last_name: str
    email: str
    establishment_id: int | None
    force_password_change: bool
    grants: tuple[Grant, ...]
    # Per-request memo (the user is loaded afresh for every request): e.g. the scope, which a page
    # may need for its checks, its table and its filters.
    memo: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(g.role for g in self.grants)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    @property
    def sees_operations(self) -> bool:
        """The operations dashboard: administrators (who may act) and the read-only operations role."""
        return self.has_role(ADMIN, OPERATIONS)

    @property
    def manages_establishments(self) -> bool:
        return self.has_role(ADMIN, GED, GET)
