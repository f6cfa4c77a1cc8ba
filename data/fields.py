"""A customer's fields, declared once.

Everything that knows what a customer holds derives from ``FIELDS``: the table's columns
(``data.models``), the validation rules (``data.schemas``), the import's column targets
and header synonyms (``data.importing.columns``), the staging, write and undo SQL of an
import, the export's header, the audit snapshot, the API's body and answer
(``api.schemas``), and the dashboard's grid, form and history labels.  Adding a field is
one ``Field(...)`` here plus a migration that adds its column (and, for a sortable field,
its index and change counter).

Each field is text: trimmed, empty becomes NULL, at most ``max_length`` characters.
``kind`` adds a rule: an ``email`` must be a valid address (email-validator).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldKind = Literal["text", "email", "phone"]
Width = Literal["small", "medium", "large"]


@dataclass(frozen=True)
class Field:
    """One user-editable field of a customer."""

    name: str  # column, JSON and CSV name
    label: str  # as shown in tables and messages: "Name"
    max_length: int
    required: bool = False
    kind: FieldKind = "text"
    form_label: str = ""  # the Add/Edit form's label when it differs: "Customer Name"
    multiline: bool = False  # a text area in the form
    width: Width = "medium"  # the grid column's width
    searchable: bool = False  # part of the Customers search (name, email, phone)
    # Import headers meaning this field (normalised).  Their order is the order in which
    # several such columns of one file are tried (data.importing.columns).
    synonyms: tuple[str, ...] = ()
    description: str = ""  # for the API's documentation

    @property
    def form_text(self) -> str:
        return self.form_label or self.label

    @property
    def change_counter(self) -> str:
        """The ``customer_counts`` column counting updates that moved this sort's key."""
        return f"{self.name}_changes"


FIELDS: tuple[Field, ...] = (
    Field(
        "name",
        "Name",
        200,
        required=True,
        form_label="Customer Name",
        searchable=True,
        description="Required; trimmed; 1–200 characters.",
        synonyms=(
            "name",
            "customername",
            "customer",
            "fullname",
            "contactname",
            "contact",
            "clientname",
            "client",
            "displayname",
            "nom",
            "nombre",
            "kunde",
            "kundenname",
        ),
    ),
    Field(
        "email",
        "Email",
        254,
        required=True,
        kind="email",
        searchable=True,
        description="Required; a valid address; unique in your tenant, ignoring case.",
        synonyms=(
            "email",
            "emailaddress",
            "mail",
            "emailid",
            "primaryemail",
            "contactemail",
            "customeremail",
            "workemail",
            "courriel",
            "correo",
            "correoelectronico",
            "emailadresse",
        ),
    ),
    Field(
        "phone",
        "Phone",
        50,
        kind="phone",
        width="small",
        searchable=True,
        description="Optional; empty becomes null.",
        synonyms=(
            "phone",
            "phonenumber",
            "telephone",
            "telephonenumber",
            "tel",
            "mobile",
            "mobilephone",
            "mobilenumber",
            "cell",
            "cellphone",
            "contactphone",
            "primaryphone",
            "workphone",
            "businessphone",
            "phone1",
            "defaultaddressphone",
            "telefon",
            "telefono",
            "telefonnummer",
            "handy",
        ),
    ),
    Field(
        "address",
        "Address",
        500,
        multiline=True,
        width="large",
        description="Optional; may hold commas, quotes and line breaks; empty becomes null.",
        synonyms=(
            "address",
            "streetaddress",
            "address1",
            "addressline1",
            "postaladdress",
            "mailingaddress",
            "mailingstreet",
            "billingaddress",
            "billingstreet",
            "shippingaddress",
            "fulladdress",
            "defaultaddressaddress1",
            "street",
            "adresse",
            "direccion",
            "anschrift",
        ),
    ),
)

FIELD_NAMES: tuple[str, ...] = tuple(field.name for field in FIELDS)
BY_NAME: dict[str, Field] = {field.name: field for field in FIELDS}
REQUIRED: tuple[str, ...] = tuple(field.name for field in FIELDS if field.required)
SEARCHABLE: tuple[str, ...] = tuple(field.name for field in FIELDS if field.searchable)
# Columns every customer has besides its fields, in the export's order.
SYSTEM_COLUMNS: tuple[str, ...] = ("created_at", "updated_at", "id")
EXPORT_HEADER: tuple[str, ...] = (*FIELD_NAMES, *SYSTEM_COLUMNS)
LABELS: dict[str, str] = {field.name: field.label for field in FIELDS}


def label(name: str) -> str:
    """The label of a field, or of another input (``search`` → ``Search``)."""
    found = BY_NAME.get(name)
    return found.label if found is not None else name.replace("_", " ").capitalize()


def field_list() -> str:
    """``name, email, phone, address``: for sentences that list the fields."""
    return ", ".join(FIELD_NAMES)
