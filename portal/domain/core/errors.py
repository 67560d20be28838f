"""Errors the domain raises on purpose. Each carries a message fit to show the user."""


class DomainError(Exception):
    """A refusal with a clear message; nothing was changed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The object does not exist for this actor (another company's object looks the same)."""

    def __init__(self, message: str = "Not found") -> None:
        super().__init__(message)


class InvalidTransition(DomainError):
    """A state machine was asked for a move its table does not allow."""
