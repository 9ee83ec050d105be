"""Domain errors. One exception handler turns each into the right page or fragment, in French."""


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    status_code = 404


class ScopeError(NotFound):
    """The object exists but is outside the caller's scope. Raised with the very words of the
    NotFound of the same object ("Session introuvable."), so that a forged id tells nothing."""


class ValidationFailed(DomainError):
    status_code = 422

    def __init__(self, errors: dict[str, str], message: str = "Le formulaire contient des erreurs."):
        super().__init__(message)
        self.errors = errors
