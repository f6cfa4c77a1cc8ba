"""The wire format: camelCase JSON, as the original Inventory Pro API spoke it.

These models describe and serialise what goes over HTTP.  They hold no customer rules:
a request body is validated by ``data.schemas.validate_customer`` (the one place the
rules live); ``CustomerWrite`` here only documents that body in ``/openapi.json``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from pydantic.alias_generators import to_camel

from data.models import ADDRESS_MAX, EMAIL_MAX, NAME_MAX, PHONE_MAX
from data.schemas import CustomerOut

EXAMPLE_ID = "3f0c2b8e-4d5a-4c1e-9a77-0b6f2d9e8c41"
EXAMPLE_TENANT = "9b2e7f10-61c4-4a8b-8d3e-5f1a2c7b9e06"
EXAMPLE_CUSTOMER: dict[str, JsonValue] = {
    "name": "Chloé Nakamura",
    "email": "chloe.nakamura@example.com",
    "phone": "+49 30 1234567",
    "address": 'Hauptstraße 5\n"Hinterhaus", 2. OG\n10115 Berlin',
}


class Wire(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True
    )


class CustomerWrite(BaseModel):
    """The body of POST and PUT: the four fields, nothing else (unknown fields → 422).

    PUT replaces all four: an omitted ``phone`` or ``address`` becomes null.
    """

    model_config = ConfigDict(
        extra="forbid",
        title="CustomerWrite",
        json_schema_extra={"examples": [EXAMPLE_CUSTOMER]},
    )

    name: str = Field(
        min_length=1, max_length=NAME_MAX, description="Required; trimmed; 1–200 characters."
    )
    email: str = Field(
        min_length=3,
        max_length=EMAIL_MAX,
        description="Required; a valid address; unique in your tenant, ignoring case.",
    )
    phone: str | None = Field(
        default=None, max_length=PHONE_MAX, description="Optional; empty becomes null."
    )
    address: str | None = Field(
        default=None,
        max_length=ADDRESS_MAX,
        description="Optional; may hold commas, quotes and line breaks; empty becomes null.",
    )


class Customer(Wire):
    """A stored customer."""

    model_config = ConfigDict(
        title="Customer",
        json_schema_extra={
            "examples": [
                {
                    "id": EXAMPLE_ID,
                    **EXAMPLE_CUSTOMER,
                    "tenantId": EXAMPLE_TENANT,
                    "createdAt": "2026-03-01T09:30:00Z",
                    "updatedAt": "2026-03-02T14:05:12Z",
                    "version": 2,
                }
            ]
        },
    )

    id: str
    name: str
    email: str
    phone: str | None
    address: str | None
    tenant_id: str
    created_at: datetime
    updated_at: datetime
    version: int = Field(
        description="Bumped on every change; the ETag of the customer is this number quoted."
    )

    @classmethod
    def of(cls, customer: CustomerOut) -> Customer:
        return cls(
            id=customer.id,
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
            address=customer.address,
            tenant_id=customer.tenant_id,
            created_at=customer.created_at,
            updated_at=customer.updated_at,
            version=customer.version,
        )


class TokenRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"username": "editor", "password": "a-long-password"}]},
    )

    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1000)


class Token(BaseModel):
    """OAuth2-style token response (snake_case, as OAuth2 clients expect)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiIs...",
                    "token_type": "bearer",
                    "expires_in": 3600,
                }
            ]
        }
    )

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Seconds until the token stops working.")


class Problem(Wire):
    """Every error: one sentence, the request id, and per-field sentences where useful."""

    model_config = ConfigDict(
        title="Error",
        json_schema_extra={
            "examples": [
                {
                    "detail": "The customer was not found.",
                    "requestId": "6b1f0e7c9d2a4f3e8c5b1a0d9e8f7c6b",
                }
            ]
        },
    )

    detail: str
    request_id: str
    errors: dict[str, str] | None = Field(
        default=None, description="For 409 and 422: one sentence per field or query parameter."
    )


class RowErrorOut(Wire):
    line: int = Field(description="The line of the file (1 is the header).")
    field: str | None
    message: str


class ImportResult(Wire):
    """What an import did or, with ``dryRun``, would do.

    ``written`` is false when nothing was written: a dry run, or an all-or-nothing import
    that found invalid rows (``refused``).  ``detail`` says which, in one sentence.
    """

    detail: str
    summary: str = Field(description="`created=N updated=N skipped=N invalid=N`, as the CLI.")
    written: bool
    refused: bool
    dry_run: bool
    mode: str
    partial: bool
    filename: str
    rows: int
    created: int
    updated: int
    unchanged: int
    skipped: int
    invalid: int
    import_id: str | None = Field(description="Id of the import in the audit history.")
    encoding: str
    delimiter: str
    mapping: dict[str, str] = Field(description="Each column of the file → a field ('' = unused).")
    unknown_columns: list[str]
    ignored_columns: list[str]
    errors: list[RowErrorOut] = Field(description="Row errors, the first 1,000 by line.")
    errors_truncated: bool
