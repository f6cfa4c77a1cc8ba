"""Turning audit events into something a person can read."""

from __future__ import annotations

from typing import Any

from data.audit import Event
from data.fields import FIELDS

ACTION_LABELS = {
    "create": "Added",
    "update": "Changed",
    "delete": "Deleted",
    "restore": "Restored",
    "import": "Imported",
    "undo_import": "Import undone",
    "merge": "Merged",
    "undo_merge": "Merge undone",
    "dismiss": "Not a duplicate",
}


def subject(event: Event) -> str:
    """Who the event is about: the customer's name, or the imported file."""
    record = event.after or event.before or {}
    if event.action in ("import", "undo_import"):
        return str(record.get("filename") or record.get("file") or "a file")
    if event.action in ("merge", "dismiss", "undo_merge"):
        first, second = pair_of(event)
        return f"{first.get('name') or 'a customer'} / {second.get('name') or 'a customer'}"
    return str(record.get("name") or event.customer_id or "a customer")


def pair_of(event: Event) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two customers a merge, its undo or a dismissal is about, as recorded."""
    before, after = event.before or {}, event.after or {}
    if event.action == "dismiss":
        return dict(after.get("first") or {}), dict(after.get("second") or {})
    if event.action == "undo_merge":
        return dict(after), dict(after.get("restored") or {})
    return dict(before), dict(before.get("removed") or {})


def merged_away(event: Event) -> str | None:
    """The id of the customer a merge deleted (History offers to undo it while gone)."""
    removed = (event.before or {}).get("removed") if event.action == "merge" else None
    return str(removed["id"]) if isinstance(removed, dict) and removed.get("id") else None


def pair_rows(event: Event) -> list[dict[str, Any]]:
    """Field / First / Second for the two customers of a merge, its undo or a dismissal.

    For a merge, the first is the customer kept (as it was), the second the one removed.
    """
    first, second = pair_of(event)
    return [
        {
            "Field": field.label,
            "First": first.get(field.name) or "—",
            "Second": second.get(field.name) or "—",
        }
        for field in FIELDS
    ]


def diff_rows(event: Event) -> list[dict[str, Any]]:
    """Field / Before / After for the fields the event touched."""
    before = event.before or {}
    after = event.after or {}
    rows = []
    for field in FIELDS:
        old, new = before.get(field.name), after.get(field.name)
        if event.action == "update" and old == new:
            continue
        if old is None and new is None:
            continue
        rows.append({"Field": field.label, "Before": old or "—", "After": new or "—"})
    return rows


def import_counts(event: Event) -> dict[str, Any]:
    record = event.after or {}
    keys = ("mode", "created", "updated", "unchanged", "skipped", "invalid", "rows")
    return {key: record[key] for key in keys if key in record}
