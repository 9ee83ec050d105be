"""Domain errors. One exception handler turns each into the right page or fragment, in French."""


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ScopeError(DomainError):
    """The object exists but is outside the caller's scope: answered as "not found"."""

    status_code = 404


class NotFound(DomainError):
    status_code = 404


class ValidationFailed(DomainError):
    status_code = 422

    def __init__(self, errors: dict[str, str], message: str = "Le formulaire contient des erreurs."):
        super().__init__(message)
        self.errors = errors
