"""The rules of a customer (SPEC §2), derived from ``data.fields``, for every front door.

``validate_customer(mapping)`` returns a ``CustomerIn`` or raises ``Invalid`` with one
sentence per field.  The checks are pydantic's, on a model made from ``FIELDS``
(``customer_model()``, whose JSON schema is also the API's body); the email syntax check
is the ``email-validator`` library's, not a home-made pattern.

pydantic, email-validator and the model are loaded on the first validation, not with
this module: every process that reads customers imports it (``CustomerOut``), and most
never validate one (an export, a page, the duplicate finder); the three took 0.12 s of
the 0.46 s an export spent importing.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from data.errors import Invalid
from data.fields import BY_NAME, FIELD_NAMES, FIELDS, field_list, label
from data.keys import derived_keys, normalise_email

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError
    from pydantic_core.core_schema import ValidationInfo

Values = dict[str, str | None]


def unstorable(label_: str, text: str) -> str | None:
    """Why no database can store ``text`` (a sentence naming ``label_``), or None.

    PostgreSQL refuses NUL in text, and neither database driver can encode a lone
    surrogate (which JSON's ``"\\ud800"`` or undecodable command-line bytes produce).
    """
    if "\x00" in text:
        return f"{label_} contains a NUL character, which cannot be stored."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return f"{label_} contains invalid Unicode (a lone surrogate)."
    return None


def storable(text: str) -> bool:
    return unstorable("", text) is None


def clean_text(name: str, value: Any, max_length: int | None = None) -> str | None:
    """Trim; empty becomes None; refuse what no database can store or is too long."""
    text_label = label(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{text_label} must be text.")  # noqa: TRY004 (pydantic wants ValueError)
    text: str = value.strip()
    if not text:
        return None
    problem = unstorable(text_label, text)
    if problem is not None:
        raise ValueError(problem)
    field = BY_NAME.get(name)
    limit = max_length if max_length is not None else (field.max_length if field else None)
    if limit is not None and len(text) > limit:
        raise ValueError(
            f"{text_label} must be at most {limit} characters; this one has {len(text)}."
        )
    return text


# Distinct domains whose checks ``email_validation`` keeps (a few hundred bytes each).
DOMAIN_CACHE_SIZE = 4096
_WRAPPING = threading.Lock()


@functools.cache
def email_validation() -> tuple[Callable[..., Any], type[Exception]]:
    """email-validator's ``validate_email`` and its error, loaded on first use.

    The library's check of an address's domain (its characters, UTS-46 normalisation,
    IDNA) is a pure function of the domain and two options, and a customer list repeats
    a few domains thousands of times; it is most of the library's time per address
    (72 → 26 µs for an ``example.com`` address), and validation is what an import waits
    for on two cores.  So that check is memoised where ``validate_email`` looks it up,
    each caller given a copy of the answer; a domain it refuses is checked (and raises)
    again on every call.  Every rule and sentence stays the library's:
    ``tests/data/test_email_rules.py`` proves the memo is in place and answers as the
    library does.
    """
    import sys

    from email_validator import EmailNotValidError, validate_email

    module: Any = sys.modules[validate_email.__module__]
    with _WRAPPING:  # two first callers (the API's threads) must not wrap it twice
        check_domain = module.validate_email_domain_name
        if not hasattr(check_domain, "cache_info"):
            remembered = functools.lru_cache(maxsize=DOMAIN_CACHE_SIZE)(check_domain)

            @functools.wraps(check_domain)
            def checked_domain(domain: str, **options: Any) -> Any:
                return dict(remembered(domain, **options))

            checked_domain.cache_info = remembered.cache_info  # type: ignore[attr-defined]
            module.validate_email_domain_name = checked_domain
    return validate_email, EmailNotValidError


def check_email(value: str) -> str:
    validate_email, not_valid = email_validation()
    try:
        validate_email(value, check_deliverability=False)
    except not_valid as exc:
        reason = str(exc).rstrip(".")
        raise ValueError(f"Email is not a valid address: {reason}.") from None
    return value


def _clean_field(cls: type[BaseModel], value: Any, info: ValidationInfo) -> str | None:
    name = info.field_name or ""
    field = BY_NAME[name]
    cleaned = clean_text(name, value)
    if cleaned is None:
        if field.required:
            raise ValueError(f"{field.label} is required.")
        return None
    if field.kind == "email":
        return check_email(cleaned)
    return cleaned


def _model_fields() -> dict[str, Any]:
    from pydantic import Field as Constraint

    fields: dict[str, Any] = {}
    for field in FIELDS:
        if field.required:
            fields[field.name] = (
                str,
                Constraint(
                    min_length=1, max_length=field.max_length, description=field.description
                ),
            )
        else:
            fields[field.name] = (
                str | None,
                Constraint(
                    default=None, max_length=field.max_length, description=field.description
                ),
            )
    return fields


@functools.cache
def customer_model() -> type[BaseModel]:
    """A customer as a user gives it: unknown fields are refused; every field is cleaned
    (trimmed, empty → None) and checked.  Also the API's request body, documented."""
    from pydantic import ConfigDict, create_model, field_validator

    return create_model(
        "CustomerWrite",
        __config__=ConfigDict(
            extra="forbid",
            frozen=True,
            title="CustomerWrite",
            json_schema_extra={
                "description": f"The customer's fields ({field_list()}), nothing else; "
                "PUT replaces them all (an omitted optional field becomes null)."
            },
        ),
        __validators__={
            "clean": field_validator(*FIELD_NAMES, mode="before")(  # type: ignore[dict-item]
                classmethod(_clean_field)
            )
        },
        **_model_fields(),
    )


class CustomerIn(Mapping[str, str | None]):
    """A validated customer: the values of its fields, as stored (and its derived keys)."""

    __slots__ = ("_values",)
    _values: Values

    def __init__(self, values: Mapping[str, str | None]) -> None:
        object.__setattr__(self, "_values", {name: values.get(name) for name in FIELD_NAMES})

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"CustomerIn is frozen; {name} cannot be set")

    def __getitem__(self, name: str) -> str | None:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"CustomerIn({self._values!r})"

    def __getattr__(self, name: str) -> str | None:
        # clean.phone, clean.address ...: a field by name (only fields).
        if name in FIELD_NAMES:
            return self._values[name]
        raise AttributeError(name)

    @property
    def name(self) -> str:
        return self._values["name"] or ""

    @property
    def email(self) -> str:
        return self._values["email"] or ""

    @property
    def email_key(self) -> str:
        return normalise_email(self.email)

    def fields(self) -> Values:
        return dict(self._values)

    def stored(self, region: str | None = None) -> Values:
        """The fields and the keys derived from them: every column a write sets.

        ``region``: the tenant's default phone region (``Scope.phone_region``).
        """
        return {**self._values, **derived_keys(self._values, region)}

    def model_dump(self) -> Values:
        return dict(self._values)


@dataclass(frozen=True, slots=True)
class CustomerOut:
    """A stored customer: its fields, and what the system keeps about it."""

    id: str
    tenant_id: str
    values: Mapping[str, str | None]
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> CustomerOut:
        """From a result row (``row._mapping``) holding the system columns and the fields."""
        return cls(
            id=row["id"],
            tenant_id=row["tenant_id"],
            values={name: row[name] for name in FIELD_NAMES},
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            version=row["version"],
        )

    def __getattr__(self, name: str) -> str | None:
        # c.phone, c.address ...: a field by name (only fields; anything else is an error).
        if name in FIELD_NAMES:
            return self.values[name]
        raise AttributeError(name)

    @property
    def name(self) -> str:
        return self.values["name"] or ""

    @property
    def email(self) -> str:
        return self.values["email"] or ""

    def fields(self) -> Values:
        """The user-editable fields, as a plain dict (for audit and comparisons)."""
        return dict(self.values)


def errors_of(exc: ValidationError) -> dict[str, str]:
    """pydantic's errors as ``{field: sentence}``, first error per field."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        loc = error.get("loc") or ("input",)
        name = str(loc[0])
        kind = error.get("type")
        if kind == "extra_forbidden":
            message = f"Unknown field {name!r}; expected {field_list()}."
        elif kind == "missing":
            message = f"{label(name)} is required."
        elif kind == "value_error":
            message = str(error.get("ctx", {}).get("error") or error["msg"])
        elif kind in ("string_type", "model_type", "dict_type"):
            message = f"{label(name)} must be text."
        else:
            message = f"{label(name)}: {error['msg']}."
        errors.setdefault(name, message)
    return errors


def validate_customer(data: Mapping[str, Any] | CustomerIn) -> CustomerIn:
    """Validate a mapping of the fields; raise ``Invalid`` with per-field sentences."""
    if isinstance(data, CustomerIn):
        return data
    if not isinstance(data, Mapping):
        raise Invalid({"input": "A customer must be an object with name and email."})
    from pydantic import ValidationError

    try:
        model = customer_model().model_validate(dict(data))
    except ValidationError as exc:
        raise Invalid(errors_of(exc)) from None
    return CustomerIn(model.model_dump())


def check_search(term: str) -> str:
    """Refuse a search no database can run (NUL, broken Unicode) with a sentence."""
    try:
        clean_text("search", term)
    except ValueError as exc:
        raise Invalid({"search": str(exc)}) from None
    return term
