"""Which columns of a file feed which field: targets and synonyms from ``data.fields``.

A header is recognised (``classify``, pure) by its normalised name (case, spaces,
punctuation and accents removed) against each field's ``synonyms``, or, for the phone,
the email and the address, by such a name with a qualifier, a number or ``value``
around it, as contact exports write them: ``Business Phone``, ``Home Phone 2``,
``Mobile Phone``, ``E-mail 2 Address``, ``E-mail 1 - Value``, ``Phone (Work)``,
``Address 1 - Formatted``, ``Home Street``.  Faxes, pagers, types and labels are not.

Besides the fields, columns may hold parts of the name: first, middle and last name and
the company (HubSpot, Shopify, Outlook, Google).  Columns that an export of this product
carries and the system sets itself (id, created_at ...) are recognised and left alone.

**Several columns for one field.**  When several columns hold the same field, each row
takes the first non-empty one, in this order (``rank``):

1. the number in the header: ``E-mail Address`` (1), then ``E-mail 2 Address``, then
   ``E-mail 3 Address``; ``Phone 1 - Value`` before ``Phone 2 - Value``;
2. its qualifier: none or *primary* first, then *mobile* (cell, iPhone), *business*
   (work, office), *home* (personal), *company* / *main*, *other*;
3. the order of the field's synonyms in ``data.fields``; then the file's column order.

So an Outlook row takes Primary, else Mobile, else Business, else Home ... phone.  A cell
holding several values as Google Contacts writes them (``a@x.com ::: b@y.com``) gives
its first.
**The name**: a column holding the whole name wins when it is not empty; else the row's
first, middle and last name are joined with spaces and its company added in brackets
(``Ann Lee (Acme Ltd)``); a row with no person takes the company alone.

**A chosen mapping** (``--map``, the API's ``mapping``, the dashboard's Columns table)
overrides the automatic one column by column; a field that any column is mapped to by
hand is fed only by the columns mapped to it by hand.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

from data.cells import unneutralise
from data.errors import ImportFailed
from data.fields import BY_NAME, FIELD_NAMES, FIELDS, REQUIRED, SYSTEM_COLUMNS


class NamePart(NamedTuple):
    label: str
    synonyms: tuple[str, ...]


# The parts of a name, joined into the field ``NAME_FIELD`` (see the module doc).
NAME_FIELD = "name"
NAME_PARTS: dict[str, NamePart] = {
    "first_name": NamePart(
        "First name", ("firstname", "givenname", "forename", "first", "vorname", "prenom")
    ),
    "middle_name": NamePart(
        "Middle name", ("middlename", "additionalname", "middle", "middlenames", "secondname")
    ),
    "last_name": NamePart("Last name", ("lastname", "surname", "familyname", "last", "nachname")),
    "company": NamePart(
        "Company",
        (
            "company",
            "companyname",
            "organization",
            "organisation",
            "organizationname",
            "organisationname",
            "accountname",
            "defaultaddresscompany",
            "firm",
            "firma",
            "employer",
            "unternehmen",
            "entreprise",
            "empresa",
        ),
    ),
}
PERSON = ("first_name", "middle_name", "last_name")
COMPANY = "company"
# Fields whose columns may carry a qualifier (Business, Home ...) and several numbers.
CONTACT_FIELDS = ("phone", "email", "address")

# Fields a column can be mapped to; ``IGNORE`` leaves the column out.
TARGETS: tuple[str, ...] = (*FIELD_NAMES, *NAME_PARTS)
IGNORE = ""
TARGET_LABELS: dict[str, str] = {
    **{f.name: f.label for f in FIELDS},
    **{
        name: f"{part.label} (part of {BY_NAME[NAME_FIELD].label})"
        for name, part in NAME_PARTS.items()
    },
    IGNORE: "(ignore)",
}

# Qualifiers of a contact column, in the order such columns are tried.
QUALIFIERS: dict[str, int] = {
    "primary": 0,
    "preferred": 0,
    "default": 0,
    "mobile": 1,
    "cell": 1,
    "cellular": 1,
    "iphone": 1,
    "handy": 1,
    "business": 2,
    "work": 2,
    "office": 2,
    "home": 3,
    "personal": 3,
    "private": 3,
    "company": 4,
    "main": 4,
    "other": 5,
    "alternate": 5,
    "alt": 5,
    "secondary": 5,
}
FILLER = frozenset({"value", "formatted"})  # Google: "E-mail 1 - Value", "Address 1 - Formatted"
# Google Contacts puts several addresses of one label in one cell: "a@x.com ::: b@y.com".
MULTI_VALUE_SEPARATOR = " ::: "
MULTI_VALUED = ("email", "phone")


def normalise_header(header: str) -> str:
    """``" E-Mail Address "`` → ``"emailaddress"``: case, spaces and punctuation removed."""
    return "".join(_tokens(header))


def _tokens(header: str) -> list[str]:
    """``"E-mail 2 Address"`` → ``["e", "mail", "2", "address"]``."""
    folded = unicodedata.normalize("NFKD", header.replace("\ufeff", "")).casefold()
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return re.findall(r"\d+|[^\W\d_]+", plain)


# A field is also matched by its own name and label ("Phone", "phone").
SYNONYMS: dict[str, tuple[str, ...]] = {
    **{
        f.name: tuple(dict.fromkeys(map(normalise_header, (f.name, f.label, *f.synonyms))))
        for f in FIELDS
    },
    **{name: part.synonyms for name, part in NAME_PARTS.items()},
}
_LOOKUP = {synonym: target for target, names in SYNONYMS.items() for synonym in names}
_POSITION = {synonym: i for names in SYNONYMS.values() for i, synonym in enumerate(names)}

# Columns an export carries that the system sets itself: recognised and left alone.
SYSTEM_HEADERS = frozenset(
    {normalise_header(name) for name in SYSTEM_COLUMNS}
    | {"created", "updated", "tenantid", "version"}
)

Rank = tuple[int, int, int]
LAST: Rank = (1 << 30, 0, 0)  # a column mapped by hand that no rule knows: after the rest


class Candidate(NamedTuple):
    target: str
    rank: Rank  # (number, qualifier, synonym position): the smaller is tried first


def classify(header: str) -> Candidate | None:
    """The field (or name part) a header means and its rank among such columns, or None."""
    tokens = _tokens(header)
    qualifier = max((QUALIFIERS[t] for t in tokens if t in QUALIFIERS), default=0)
    whole = "".join(tokens)
    target = _LOOKUP.get(whole)
    if target is not None:
        return Candidate(target, (1, qualifier, _POSITION[whole]))
    numbers = [int(t) for t in tokens if t.isdigit()]
    number = numbers[0] if numbers else 1
    words = [t for t in tokens if not t.isdigit() and t not in FILLER]
    base = "".join(words)
    target = _LOOKUP.get(base)
    if target is None:
        base = "".join(t for t in words if t not in QUALIFIERS)
        target = _LOOKUP.get(base)
        if target not in CONTACT_FIELDS:
            return None
    if target is None or (target not in CONTACT_FIELDS and number > 1):
        return None
    if target == "address" and number > 1 and "formatted" not in tokens:
        return None  # "Address 2" / "Address Line 2" is the second line, not an address
    return Candidate(target, (number, qualifier, _POSITION[base]))


def guess_field(header: str) -> str:
    """The field (or name part) a header means, or ``""`` when it means none."""
    found = classify(header)
    return found.target if found is not None else IGNORE


def is_system_column(header: str) -> bool:
    return normalise_header(header) in SYSTEM_HEADERS


def match_columns(headers: Sequence[str]) -> dict[str, str]:
    """Map each header to the field it feeds (``""`` = ignored).  Pure.

    Several headers may feed one field (see the module doc); first, middle and last
    name and company feed the name.
    """
    return {header: guess_field(header) for header in headers}


@dataclass(frozen=True)
class ColumnPlan:
    """Which columns feed which field, in which order; what a row keeps of its values.

    ``used`` are the indexes of the columns any field reads; ``project`` keeps only
    their values of a row (in that order), and ``record`` turns those into a customer.
    """

    width: int
    sources: dict[str, tuple[int, ...]]  # target -> column indexes, in the order tried
    mapping: dict[str, str]  # header -> target ("" = ignored)
    unknown: list[str]
    ignored: list[str] = field(default_factory=list)  # system columns (id, created_at ...)
    headers: tuple[str, ...] = ()

    @cached_property
    def used(self) -> tuple[int, ...]:
        return tuple(sorted({i for indexes in self.sources.values() for i in indexes}))

    @property
    def indexes(self) -> dict[str, int]:
        """The first column of each target (what a one-column-per-field file has)."""
        return {target: columns[0] for target, columns in self.sources.items()}

    @cached_property
    def positions(self) -> dict[str, tuple[int, ...]]:
        """Each target's columns as positions in a projected row."""
        where = {index: position for position, index in enumerate(self.used)}
        return {t: tuple(where[i] for i in columns) for t, columns in self.sources.items()}

    def project(self, values: Sequence[str]) -> tuple[str, ...]:
        """Only the values of the used columns (a missing cell is empty)."""
        size = len(values)
        return tuple(values[i] if i < size else "" for i in self.used)

    def record(self, kept: Sequence[str]) -> dict[str, str | None]:
        """The customer fields of one projected row (``project``)."""
        positions = self.positions

        def first(target: str) -> str | None:
            columns = positions.get(target)
            if columns is None:
                return None
            for position in columns:
                value = kept[position]
                if value.strip():
                    return value
            return kept[columns[0]]

        out: dict[str, str | None] = {}
        for target in FIELD_NAMES:
            value = first(target)
            if value is not None and target in MULTI_VALUED:
                value = value.split(MULTI_VALUE_SEPARATOR, 1)[0]
            out[target] = unneutralise(value) if value is not None else None
        whole = out[NAME_FIELD]
        if (whole is None or not whole.strip()) and set(NAME_PARTS) & set(positions):
            out[NAME_FIELD] = compose_name(
                [(first(part) or "").strip() for part in PERSON], (first(COMPANY) or "").strip()
            )
        return out

    def feeds(self) -> dict[str, list[str]]:
        """Each field or name part that columns feed → their headers, in the order tried."""
        return {
            target: [self.headers[i] for i in self.sources[target]]
            for target in TARGETS
            if target in self.sources
        }

    def explained(self) -> list[str]:
        """Sentences for the preview: fields fed by several columns, and how the name is made."""
        lines = []
        feeds = self.feeds()
        for target, headers in feeds.items():
            if len(headers) > 1:
                shown = ", then ".join(repr(h) for h in headers)
                lines.append(
                    f"{TARGET_LABELS[target].split(' (')[0]}: each row takes the first "
                    f"non-empty one of {shown}."
                )
        parts = [p for p in NAME_PARTS if p in feeds]
        if parts:
            joined = " + ".join(repr(feeds[p][0]) for p in parts if p in PERSON)
            company = f"{feeds[COMPANY][0]!r}" if COMPANY in feeds else ""
            how = joined + (f", with {company} in brackets" if joined and company else company)
            if COMPANY in feeds and joined:
                how += f" ({company} alone when there is no person)"
            prefix = (
                "When the name column is empty, the name is "
                if NAME_FIELD in feeds
                else ("The name is ")
            )
            lines.append(f"{prefix}{how}.")
        return lines


def compose_name(person: Sequence[str], company: str) -> str | None:
    """``Ann Lee (Acme Ltd)``; ``Acme Ltd`` when there is no person; None when neither."""
    name = " ".join(part for part in person if part)
    if name and company:
        return unneutralise(f"{name} ({company})")
    return unneutralise(name or company) if name or company else None


def check_mapping(headers: Sequence[str], mapping: Mapping[str, str], filename: str) -> None:
    """Refuse a chosen mapping that names a column the file lacks, or an unknown field."""
    known = set(headers)
    for header, target in mapping.items():
        if target not in (*TARGETS, IGNORE):
            raise ImportFailed(
                f"Column {header!r} cannot be mapped to {target!r}; map it to one of "
                f"{', '.join(TARGETS)}, or to nothing to ignore it."
            )
        if header not in known:
            shown = ", ".join(repr(h) for h in headers[:8]) + (" ..." if len(headers) > 8 else "")
            raise ImportFailed(
                f"The mapping names a column {header!r} that {filename} does not have "
                f"(its columns are {shown})."
            )


def _order(header: str, target: str) -> Rank:
    found = classify(header)
    return found.rank if found is not None and found.target == target else LAST


def plan_columns(
    headers: Sequence[str],
    mapping: Mapping[str, str] | None,
    *,
    where: str = "Line 1",
    filename: str = "the file",
) -> ColumnPlan:
    """Turn the header and a chosen mapping into the columns each field reads, in order.

    Raises ``ImportFailed`` for a mapping that names a column the file lacks or an
    unknown field, and when no column holds a required field.
    """
    chosen = match_columns(headers)
    by_hand: set[str] = set()
    if mapping:
        check_mapping(headers, mapping, filename)
        chosen.update(mapping)
        by_hand = {target for target in mapping.values() if target}
    columns: dict[str, list[int]] = {}
    for index, header in enumerate(headers):
        target = chosen.get(header, IGNORE)
        if not target:
            continue
        if target in by_hand and header not in (mapping or {}):
            chosen[header] = IGNORE  # the field is fed by the columns chosen for it
            continue
        columns.setdefault(target, []).append(index)
    sources = {
        target: tuple(sorted(indexes, key=lambda i: (_order(headers[i], target), i)))
        for target, indexes in columns.items()
    }
    held = set(sources) | ({NAME_FIELD} if set(NAME_PARTS) & set(sources) else set())
    missing = [name for name in REQUIRED if name not in held]
    if missing:
        shown = ", ".join(repr(h) for h in headers[:8]) + (" ..." if len(headers) > 8 else "")
        raise ImportFailed(
            f"{where}: no column holds the customer's {' or '.join(missing)} "
            f"(the header is {shown}); name the columns or map them."
        )
    unknown = [h for h in headers if not chosen.get(h) and not is_system_column(h)]
    ignored = [h for h in headers if not chosen.get(h) and is_system_column(h)]
    return ColumnPlan(len(headers), sources, chosen, unknown, ignored, tuple(headers))


def holds_required(values: Sequence[str], mapping: Mapping[str, str] | None) -> bool:
    """True when a row of column names could be the header: it names every required
    field (by the automatic matching and ``mapping``).  Used to find a sheet's header."""
    headers = [value.strip() for value in values]
    if mapping and any(header not in headers for header in mapping):
        return False
    try:
        plan_columns(headers, mapping)
    except ImportFailed:
        return False
    return True
