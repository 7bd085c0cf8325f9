"""Domain errors carry a stable `code` and never an HTTP status; `app.py` maps them."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refusal the client can act on. `code` is stable and machine-readable."""

    code = "domain_error"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extra = extra


class NotFound(DomainError):
    code = "not_found"


class Unauthenticated(DomainError):
    code = "unauthenticated"


class Forbidden(DomainError):
    code = "forbidden"


class Conflict(DomainError):
    code = "conflict"


class Unavailable(DomainError):
    """The service cannot answer now (the database, or an outside service): nothing was changed,
    the client may retry (a 503 with `Retry-After`)."""

    code = "unavailable"


class DatabaseUnavailable(Unavailable):
    code = "database_unavailable"


class InvalidInput(DomainError):
    """Input that is well-formed JSON but semantically invalid (a 422)."""

    code = "validation_error"


# Status per error class; codes not listed fall back to their class.
STATUS_BY_CLASS: dict[type[DomainError], int] = {
    NotFound: 404,
    Unauthenticated: 401,
    Forbidden: 403,
    Conflict: 409,
    InvalidInput: 422,
    Unavailable: 503,
}


def status_for(error: DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_CLASS:
            return STATUS_BY_CLASS[cls]
    return 400
