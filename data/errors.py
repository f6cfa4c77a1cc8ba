"""The one error hierarchy of the data layer.

Each front door translates these once: the API to status codes, the dashboard to a
message next to the row or field, the CLI to an exit code and one sentence on stderr.
Every message is a complete sentence that can be shown to a user as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DataError(Exception):
    """Base class; ``str(error)`` is a sentence fit for a user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(DataError):
    """No such record in the caller's tenant (another tenant's record looks the same)."""

    def __init__(self, what: str = "customer", key: str | None = None) -> None:
        detail = f" {key}" if key else ""
        super().__init__(f"The {what}{detail} was not found.")
        self.what = what


class Unauthenticated(DataError):
    """Wrong username or password, or a session or token that no longer stands."""

    def __init__(self, message: str = "Wrong username or password.") -> None:
        super().__init__(message)


class Forbidden(DataError):
    """The caller's role does not allow this."""


class Conflict(DataError):
    """The write would break a uniqueness rule (an email already in use, ...)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class StaleVersion(Conflict):
    """Someone else changed the record since the caller read it; nothing was written."""

    def __init__(self, current: Mapping[str, Any] | None, expected: int | None = None) -> None:
        super().__init__(
            "This customer was changed by someone else since you loaded it; "
            "reload to see their change.",
            field=None,
        )
        self.current = dict(current) if current is not None else None
        self.expected = expected


class Invalid(DataError):
    """Input broke the rules; ``errors`` maps each field to one sentence."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        summary = "; ".join(
            f"{field if field.isprintable() else ascii(field)}: {message}"
            for field, message in self.errors.items()
        )
        super().__init__(summary or "The input is not valid.")


class Throttled(DataError):
    """Too many failed sign-ins; ``retry_after`` is in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(
            f"Too many failed sign-in attempts; try again in {_duration(self.retry_after)}."
        )


class Unavailable(DataError):
    """The database cannot be reached or stayed busy; try again later."""


class ImportFailed(DataError):
    """An import could not run at all (unreadable file, no usable header ...)."""


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = round(seconds / 60)
    return f"{minutes} minutes"
