"""The editable customer grid: what changed, saving it, and what failed.

Pure functions around ``st.data_editor``, so the rules are testable without a browser:

* ``snapshot`` — the page as loaded: each row's values and the ``version`` it had.  The
  page keeps this snapshot while edits are pending, so a change someone else makes in
  the meantime becomes a *conflict* on Save instead of being silently overwritten.
* ``collect_changes`` — compares the editor's frame with the snapshot: changed rows
  (with the version they were based on) and rows added in the grid.
* ``save_changes`` — validates and writes every change in ONE transaction: valid rows
  are written, invalid ones and conflicting ones are returned with their messages, and
  nothing of theirs is written.
* ``Pending`` — what stays on screen after a Save: the rows that failed, with the user's
  values, their problem, and (for a conflict) the other writer's values.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from data.errors import DataError, Forbidden, Unauthenticated, Unavailable
from data.fields import FIELD_NAMES as FIELDS
from data.fields import LABELS as COLUMN
from data.identity import Identity
from data.schemas import CustomerOut
from ui.db import scope
from ui.errors import problem_of

SELECT = "Select"
PROBLEM = "Problem"
ID = "_id"
VERSION = "_version"
DRAFT = "_draft"
FRAME_COLUMNS = [SELECT, *COLUMN.values(), PROBLEM, ID, VERSION, DRAFT]

Values = dict[str, str | None]


def clean(value: Any) -> str | None:
    """A cell as the data layer sees it: text, trimmed; empty and NaN are None."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    text = str(value).strip()
    return text or None


@dataclass(frozen=True)
class SnapshotRow:
    id: str
    version: int
    values: Values


def snapshot(customers: Sequence[CustomerOut]) -> list[SnapshotRow]:
    return [SnapshotRow(c.id, c.version, dict(c.fields())) for c in customers]


@dataclass
class Draft:
    """A row that could not be saved: the user's values and why."""

    key: str
    id: str | None  # None for a row added in the grid
    version: int | None
    values: Values
    problem: str
    field_errors: dict[str, str] = field(default_factory=dict)
    theirs: Values | None = None  # for a conflict: the values someone else saved
    theirs_version: int | None = None


def build_frame(rows: Sequence[SnapshotRow], drafts: Mapping[str, Draft]) -> pd.DataFrame:
    """The frame the editor shows: the page, with failed rows as the user left them."""
    by_id = {d.id: d for d in drafts.values() if d.id is not None}
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in rows:
        draft = by_id.get(row.id)
        values = draft.values if draft else row.values
        records.append(_record(values, row.id, draft.version if draft else row.version, draft))
        seen.add(row.id)
    for draft in drafts.values():
        if draft.id is None or draft.id not in seen:
            records.append(_record(draft.values, draft.id, draft.version, draft))
    frame = pd.DataFrame.from_records(records, columns=FRAME_COLUMNS)
    frame[SELECT] = frame[SELECT].astype("boolean")  # nullable: rows added in the grid
    for column in [*COLUMN.values(), PROBLEM, ID, DRAFT]:
        frame[column] = frame[column].astype(object)
    frame[VERSION] = frame[VERSION].astype("Int64")
    return frame


def _record(
    values: Values, row_id: str | None, version: int | None, draft: Draft | None
) -> dict[str, Any]:
    # Empty cells show as empty, not "None"; clean() reads "" back as None.
    record: dict[str, Any] = {COLUMN[f]: values.get(f) or "" for f in FIELDS}
    record[SELECT] = False
    record[PROBLEM] = f"⚠ {draft.problem}" if draft else ""
    record[ID] = row_id
    record[VERSION] = version
    record[DRAFT] = draft.key if draft else None
    return record


@dataclass(frozen=True)
class Change:
    """One row to write: ``id`` None means create."""

    key: str
    id: str | None
    version: int | None
    values: Values


def collect_changes(rows: Sequence[SnapshotRow], edited: pd.DataFrame) -> list[Change]:
    """Rows of ``edited`` whose fields differ from the snapshot, and new non-empty rows."""
    original = {row.id: row for row in rows}
    changes: list[Change] = []
    for record in edited.to_dict("records"):
        values: Values = {f: clean(record.get(COLUMN[f])) for f in FIELDS}
        row_id = clean(record.get(ID))
        version = record.get(VERSION)
        version = None if version is None or version is pd.NA or _nan(version) else int(version)
        key = clean(record.get(DRAFT)) or row_id or f"new-{uuid.uuid4().hex[:8]}"
        if row_id is None:
            if any(values.values()):
                changes.append(Change(key, None, None, values))
            continue
        base = original.get(row_id)
        if base is None or values != base.values or version != base.version:
            changes.append(Change(key, row_id, version, values))
    return changes


def _nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def selected_ids(edited: pd.DataFrame) -> list[str]:
    """Ids of the rows whose Select box is ticked (saved rows only)."""
    picked = edited[edited[SELECT].fillna(False).astype(bool)]
    return [str(i) for i in picked[ID].tolist() if clean(i) is not None]


@dataclass
class SaveResult:
    updated: int = 0
    created: int = 0
    drafts: dict[str, Draft] = field(default_factory=dict)

    @property
    def written(self) -> int:
        return self.updated + self.created


def save_changes(identity: Identity, changes: Sequence[Change]) -> SaveResult:
    """Write the valid changes in one transaction; return the failed ones as drafts.

    The transaction reads the user's current rights first (``ui.db.scope``).  Raises
    ``Forbidden`` for a user who may not write (any more), ``Unauthenticated`` when the
    session ended, ``Unavailable`` when the database cannot be used: nothing is written.
    """
    result = SaveResult()
    if not changes:
        return result
    with scope(identity, write=True) as writing:
        repository = writing.customers
        for change in changes:
            try:
                if change.id is None:
                    repository.create(change.values)
                    result.created += 1
                else:
                    repository.update(change.id, change.values, expected_version=change.version)
                    result.updated += 1
            except (Forbidden, Unauthenticated, Unavailable):
                raise
            except DataError as exc:
                result.drafts[change.key] = _draft(change, exc)
    return result


def _draft(change: Change, error: DataError) -> Draft:
    """A failed row: the user's values and the error's sentences (``ui.errors``)."""
    problem = problem_of(
        error, gone="This customer was deleted by someone else; Save adds it again as new."
    )
    if problem.kind == "conflict":
        theirs = problem.theirs or {}
        return Draft(
            change.key,
            change.id,
            change.version,
            dict(change.values),
            "Changed by someone else since you loaded it; choose whose values to keep.",
            theirs={name: theirs.get(name) for name in FIELDS},
            theirs_version=theirs.get("version"),
        )
    if problem.kind == "gone":
        return Draft(change.key, None, None, dict(change.values), problem.message)
    # Every message of the data layer is a sentence that names its field.
    return Draft(
        change.key, change.id, change.version, dict(change.values), problem.summary, problem.fields
    )


def use_mine(draft: Draft) -> Draft:
    """Resolve a conflict by keeping the user's values: base them on the current version."""
    return Draft(
        draft.key,
        draft.id,
        draft.theirs_version,
        dict(draft.values),
        "Ready to save over their change.",
    )
