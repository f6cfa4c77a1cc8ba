"""The rules of a customer (SPEC §2), in one place, for every front door and the importer.

``validate_customer(mapping)`` returns a ``CustomerIn`` or raises ``Invalid`` with one
sentence per field.  The email syntax check is the ``email-validator`` library's, not a
home-made pattern.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from data.errors import Invalid
from data.models import ADDRESS_MAX, EMAIL_MAX, NAME_MAX, PHONE_MAX

FIELDS = ("name", "email", "phone", "address")
LABELS = {
    "name": "Name",
    "email": "Email",
    "phone": "Phone",
    "address": "Address",
    "search": "Search",
}
LIMITS = {"name": NAME_MAX, "email": EMAIL_MAX, "phone": PHONE_MAX, "address": ADDRESS_MAX}


def normalise_email(email: str) -> str:
    """The key that makes emails unique per tenant, case-insensitively.

    Computed here, in Python, for both databases: SQLite's ``lower()`` folds only ASCII
    and PostgreSQL's depends on the database locale, so a database function would make
    ``Ä@x.de`` and ``ä@x.de`` equal on one database and different on the other.
    """
    return email.strip().lower()


def unstorable(label: str, text: str) -> str | None:
    """Why no database can store ``text`` (a sentence naming ``label``), or None.

    PostgreSQL refuses NUL in text, and neither database driver can encode a lone
    surrogate (which JSON's ``"\\ud800"`` or undecodable command-line bytes produce).
    """
    if "\x00" in text:
        return f"{label} contains a NUL character, which cannot be stored."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return f"{label} contains invalid Unicode (a lone surrogate)."
    return None


def storable(text: str) -> bool:
    return unstorable("", text) is None


def clean_text(field: str, value: Any) -> str | None:
    """Trim; empty becomes None; refuse what no database can store."""
    label = LABELS.get(field, field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{label} must be text.")  # noqa: TRY004 (pydantic wants ValueError)
    text: str = value.strip()
    if not text:
        return None
    problem = unstorable(label, text)
    if problem is not None:
        raise ValueError(problem)
    limit = LIMITS.get(field)
    if limit is not None and len(text) > limit:
        raise ValueError(f"{label} must be at most {limit} characters; this one has {len(text)}.")
    return text


def check_email(value: str) -> str:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        reason = str(exc).rstrip(".")
        raise ValueError(f"Email is not a valid address: {reason}.") from None
    return value


class CustomerIn(BaseModel):
    """A customer as given by a user: validated, trimmed, empty strings as None."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    email: str
    phone: str | None = None
    address: str | None = None

    @field_validator("name", "email", mode="before")
    @classmethod
    def _required(cls, value: Any, info: Any) -> str:
        cleaned = clean_text(info.field_name, value)
        if cleaned is None:
            raise ValueError(f"{LABELS[info.field_name]} is required.")
        if info.field_name == "email":
            return check_email(cleaned)
        return cleaned

    @field_validator("phone", "address", mode="before")
    @classmethod
    def _optional(cls, value: Any, info: Any) -> str | None:
        return clean_text(info.field_name, value)

    @property
    def email_key(self) -> str:
        return normalise_email(self.email)


class CustomerOut(BaseModel):
    """A stored customer."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: str
    tenant_id: str
    name: str
    email: str
    phone: str | None
    address: str | None
    created_at: datetime
    updated_at: datetime
    version: int

    def fields(self) -> dict[str, str | None]:
        """The user-editable fields, as a plain dict (for audit and comparisons)."""
        return {
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
            "address": self.address,
        }


def errors_of(exc: ValidationError) -> dict[str, str]:
    """pydantic's errors as ``{field: sentence}``, first error per field."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        loc = error.get("loc") or ("input",)
        field = str(loc[0])
        kind = error.get("type")
        if kind == "extra_forbidden":
            message = f"Unknown field {field!r}; expected name, email, phone, address."
        elif kind == "missing":
            message = f"{LABELS.get(field, field)} is required."
        elif kind == "value_error":
            message = str(error.get("ctx", {}).get("error") or error["msg"])
        elif kind in ("string_type", "model_type", "dict_type"):
            message = f"{LABELS.get(field, field)} must be text."
        else:
            message = f"{LABELS.get(field, field)}: {error['msg']}."
        errors.setdefault(field, message)
    return errors


def validate_customer(data: Mapping[str, Any] | CustomerIn) -> CustomerIn:
    """Validate a mapping of the four fields; raise ``Invalid`` with per-field sentences."""
    if isinstance(data, CustomerIn):
        return data
    if not isinstance(data, Mapping):
        raise Invalid({"input": "A customer must be an object with name and email."})
    try:
        return CustomerIn.model_validate(dict(data))
    except ValidationError as exc:
        raise Invalid(errors_of(exc)) from None
