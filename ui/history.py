"""Turning audit events into something a person can read."""

from __future__ import annotations

from typing import Any

from data.audit import Event

FIELD_LABELS = {"name": "Name", "email": "Email", "phone": "Phone", "address": "Address"}
ACTION_LABELS = {
    "create": "Added",
    "update": "Changed",
    "delete": "Deleted",
    "restore": "Restored",
    "import": "Imported",
    "undo_import": "Import undone",
}


def subject(event: Event) -> str:
    """Who the event is about: the customer's name, or the imported file."""
    record = event.after or event.before or {}
    if event.action in ("import", "undo_import"):
        return str(record.get("filename") or record.get("file") or "a CSV file")
    return str(record.get("name") or event.customer_id or "a customer")


def diff_rows(event: Event) -> list[dict[str, Any]]:
    """Field / Before / After for the fields the event touched."""
    before = event.before or {}
    after = event.after or {}
    rows = []
    for field, label in FIELD_LABELS.items():
        old, new = before.get(field), after.get(field)
        if event.action == "update" and old == new:
            continue
        if old is None and new is None:
            continue
        rows.append({"Field": label, "Before": old or "—", "After": new or "—"})
    return rows


def import_counts(event: Event) -> dict[str, Any]:
    record = event.after or {}
    keys = ("mode", "created", "updated", "unchanged", "skipped", "invalid", "rows")
    return {key: record[key] for key in keys if key in record}
