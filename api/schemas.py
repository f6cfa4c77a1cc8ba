"""The wire format: camelCase JSON, as the original Inventory Pro API spoke it.

These models describe and serialise what goes over HTTP.  They hold no customer rules:
a request body is validated by ``data.schemas.validate_customer``, whose model
(``customer_model()``, made from ``data.fields``) is also the body documented in
``/openapi.json``.  The answer's fields are made from ``data.fields`` too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, create_model
from pydantic.alias_generators import to_camel

from data.credentials import CredentialInfo
from data.fields import FIELDS
from data.schemas import CustomerOut, customer_model

EXAMPLE_ID = "3f0c2b8e-4d5a-4c1e-9a77-0b6f2d9e8c41"
EXAMPLE_TENANT = "9b2e7f10-61c4-4a8b-8d3e-5f1a2c7b9e06"
EXAMPLE_CUSTOMER: dict[str, JsonValue] = {
    "name": "Chloé Nakamura",
    "email": "chloe.nakamura@example.com",
    "phone": "+49 30 1234567",
    "address": 'Hauptstraße 5\n"Hinterhaus", 2. OG\n10115 Berlin',
}
CUSTOMER_WRITE_SCHEMA: dict[str, Any] = {
    **customer_model().model_json_schema(),
    "examples": [EXAMPLE_CUSTOMER],
}


class Wire(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True
    )


def _customer_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {"id": (str, ...)}
    for field in FIELDS:
        kind = str if field.required else str | None
        fields[field.name] = (kind, Field(description=field.description))
    fields["tenant_id"] = (str, ...)
    fields["created_at"] = (datetime, ...)
    fields["updated_at"] = (datetime, ...)
    fields["version"] = (
        int,
        Field(
            description="Bumped on every change; the ETag of the customer is this number quoted."
        ),
    )
    return fields


# A stored customer as the API answers it: ``id``, the fields, ``tenantId``,
# ``createdAt``, ``updatedAt``, ``version``.
Customer: type[Wire] = create_model(
    "Customer",
    __base__=Wire,
    __config__=None,
    **_customer_fields(),
)
Customer.model_config["title"] = "Customer"
Customer.model_config["json_schema_extra"] = {
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
}
Customer.model_rebuild(force=True)


def customer_wire(customer: CustomerOut) -> dict[str, Any]:
    """The answer for one customer, as plain data in the wire's names (camelCase)."""
    return {
        "id": customer.id,
        **customer.values,  # read only here: no copy (``fields()``) per customer
        "tenantId": customer.tenant_id,
        "createdAt": customer.created_at,
        "updatedAt": customer.updated_at,
        "version": customer.version,
    }


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


class CredentialOut(Wire):
    """A session or API token (never its secret)."""

    id: str
    kind: Literal["session", "token"]
    label: str
    created_at: datetime
    expires_at: datetime
    current: bool = Field(description="The token this request was made with.")

    @classmethod
    def of(cls, credential: CredentialInfo) -> CredentialOut:
        return cls(
            id=credential.id,
            kind="session" if credential.kind == "session" else "token",
            label=credential.label,
            created_at=credential.created_at,
            expires_at=credential.expires_at,
            current=credential.current,
        )


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
    line: int = Field(
        description="Where the row starts: the physical line of a CSV file (1 is the header), "
        "or the row number of the sheet of a workbook."
    )
    field: str | None
    message: str


class PlannedOut(Wire):
    """What the file's valid rows would do (or did)."""

    create: int
    update: int
    unchanged: int
    skip: int


class ImportResult(Wire):
    """What an import did or, with ``dryRun``, would do.

    ``written`` is false when nothing was written: a dry run, or an all-or-nothing import
    that found invalid rows (``refused``).  ``detail`` says which, in one sentence.
    ``created``, ``updated``, ``unchanged`` and ``skipped`` count what was written (all
    zero when nothing was); ``would`` holds what the valid rows would do either way.
    """

    detail: str
    summary: str = Field(
        description="The CLI's summary line: `created=N updated=N skipped=N invalid=N` when "
        "written, with ` refused=1` (and created=0 ...) when invalid rows refused the import, "
        "or `would_create=N would_update=N would_skip=N invalid=N` for a dry run (plus "
        "` would_refuse=1`)."
    )
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
    would: PlannedOut
    format: str = Field(description="csv, xlsx, xlsb, xls or ods: read from the content.")
    sheet: str | None = Field(description="The sheet of a workbook that was read.")
    header_line: int = Field(description="The line (CSV) or sheet row of the header.")
    feeds: dict[str, list[str]] = Field(
        description="Each field or name part → the columns that feed it, in the order tried "
        "(each row takes the first non-empty one)."
    )
