"""Merging two customers into one, and taking a merge back.

``merge(scope, keep_id, remove_id, choices=..., versions=...)`` keeps one customer and
deletes the other, in the scope's one transaction:

* each field takes the value of the side ``choices`` names (``"keep"`` or ``"remove"``);
  a field not named takes the newer non-empty value (``default_choices``: the value of
  the customer changed last, unless it is empty there);
* ``versions`` (the kept one's, the removed one's, as the caller loaded them) is the
  version check of an edit: either customer changed since → ``StaleVersion``, and
  nothing is written;
* the removed customer is deleted first (the kept one may take its email), then the kept
  one is updated: new version, keys recomputed, pairs found again; the removed one's
  open pairs go;
* one audit event (``merge``) holds both customers as they were: ``before`` is the kept
  one's snapshot plus ``removed`` (the other's), ``after`` the kept one as merged.

``undo_merge(scope, event_id)`` takes it back, as a restore takes back a delete: the kept
customer gets its values from before the merge (a new version) and the removed one comes
back with its id, its creation time and its values.  It is refused (``Conflict``, one
sentence) when the kept customer changed or went since the merge, when the removed one
is back already, or when its email is taken meanwhile.  One audit event (``undo_merge``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import delete, insert, update
from sqlalchemy.exc import IntegrityError

from data import audit
from data.customers.columns import COLUMNS, C, out
from data.customers.writes import SQLITE_CUSTOMERS, new_row, next_seq, stamp
from data.errors import Conflict, Invalid, NotFound, StaleVersion
from data.fields import FIELD_NAMES, label
from data.identity import Permission
from data.models import CUSTOMERS, Action, utcnow
from data.schemas import CustomerIn, CustomerOut, validate_customer

if TYPE_CHECKING:
    from data.scope import Scope

Side = Literal["keep", "remove"]
SIDES: tuple[Side, ...] = ("keep", "remove")
Choices = Mapping[str, Side]
SQLITE_RETURNING = tuple(SQLITE_CUSTOMERS.c[column.name] for column in COLUMNS)


@dataclass(frozen=True)
class MergeResult:
    kept: CustomerOut  # as merged
    removed: CustomerOut  # as it was before it was deleted
    event_id: str  # the audit event, which History can undo
    chosen: dict[str, Side]  # per field, whose value stayed


@dataclass(frozen=True)
class UndoResult:
    kept: CustomerOut  # as it was before the merge (a new version)
    restored: CustomerOut  # the removed customer, back
    event_id: str


def default_choices(keep: CustomerOut, remove: CustomerOut) -> dict[str, Side]:
    """Per field, the side whose value stays by default: the newer non-empty one."""
    newer: Side = "remove" if remove.updated_at > keep.updated_at else "keep"
    chosen: dict[str, Side] = {}
    for name in FIELD_NAMES:
        kept, removed = keep.values.get(name), remove.values.get(name)
        if not removed:
            chosen[name] = "keep"
        elif not kept:
            chosen[name] = "remove"
        else:
            chosen[name] = newer
    return chosen


def check_choices(choices: Mapping[str, Any] | None) -> dict[str, Side]:
    """The caller's per-field choices, or ``Invalid`` naming the field that is wrong."""
    errors: dict[str, str] = {}
    checked: dict[str, Side] = {}
    for name, side in (choices or {}).items():
        if name not in FIELD_NAMES:
            errors[str(name)] = f"Unknown field {name!r}; choose among {', '.join(FIELD_NAMES)}."
        elif side == "keep" or side == "remove":
            checked[name] = side
        else:
            errors[name] = f"{label(name)}: choose 'keep' or 'remove', not {side!r}."
    if errors:
        raise Invalid(errors)
    return checked


def merged_values(
    keep: CustomerOut, remove: CustomerOut, chosen: Mapping[str, Side]
) -> dict[str, str | None]:
    return {
        name: (remove if chosen.get(name) == "remove" else keep).values.get(name)
        for name in FIELD_NAMES
    }


def _stale(current: CustomerOut, expected: int | None) -> StaleVersion:
    return StaleVersion(current.fields() | {"version": current.version}, expected)


def merge(
    scope: Scope,
    keep_id: str,
    remove_id: str,
    *,
    choices: Choices | None = None,
    versions: tuple[int, int] | None = None,
) -> MergeResult:
    """Keep ``keep_id`` with the chosen values, delete ``remove_id``; see the module doc.

    ``NotFound`` for an id of another tenant or none, ``Forbidden`` for a viewer,
    ``StaleVersion`` when ``versions`` no longer hold, ``Invalid`` for bad choices.
    """
    actor = scope.require(Permission.WRITE)
    if keep_id == remove_id:
        raise Invalid({"remove": "Choose two different customers to merge."})
    chosen_now = check_choices(choices)
    customers = scope.customers
    keep, remove = customers.get(keep_id), customers.get(remove_id)
    if versions is not None:
        for current, expected in ((keep, versions[0]), (remove, versions[1])):
            if current.version != expected:
                raise _stale(current, expected)
    chosen = default_choices(keep, remove) | chosen_now
    clean = validate_customer(merged_values(keep, remove, chosen))
    session, tenant = scope.session, scope.tenant_id
    deleted = session.execute(
        delete(CUSTOMERS).where(
            C.tenant_id == tenant, C.id == remove.id, C.version == remove.version
        )
    )
    if deleted.rowcount != 1:  # type: ignore[attr-defined]
        raise _stale(customers.get(remove.id), remove.version)
    kept = _rewrite(scope, keep, clean)
    scope.duplicates.removed([remove.id])
    scope.duplicates.changed(kept)
    event_id = audit.record(
        session,
        tenant,
        actor=actor.username,
        action=Action.MERGE,
        customer_id=keep.id,
        before=audit.snapshot(keep) | {"removed": {"id": remove.id, **audit.snapshot(remove)}},
        after=audit.snapshot(kept) | {"removed_id": remove.id, "choices": dict(chosen)},
    )
    return MergeResult(kept, remove, event_id, chosen)


def _rewrite(scope: Scope, before: CustomerOut, clean: CustomerIn) -> CustomerOut:
    """Give ``before`` the values ``clean``, if it is still at its version (else stale)."""
    statement = (
        update(CUSTOMERS)
        .where(
            C.tenant_id == scope.tenant_id,
            C.id == before.id,
            C.version == before.version,
        )
        .values(**clean.stored(scope.phone_region), **stamp(utcnow()))
        .returning(*COLUMNS)
    )
    try:
        with scope.session.begin_nested():
            row = scope.session.execute(statement).first()
    except IntegrityError:
        raise Conflict(
            f"Another customer already uses the email {clean.email}.", field="email"
        ) from None
    if row is None:
        raise _stale(scope.customers.get(before.id), before.version)
    return out(row)


def undo_merge(scope: Scope, event_id: str) -> UndoResult:
    """Take back the merge recorded as ``event_id``; see the module doc."""
    actor = scope.require(Permission.WRITE)
    event = scope.audit.get(event_id)
    if (
        event is None
        or event.action != Action.MERGE.value
        or not event.customer_id
        or not event.before
        or not event.after
        or not isinstance(event.before.get("removed"), dict)
    ):
        raise NotFound("merge")
    image: dict[str, Any] = event.before["removed"]
    customers = scope.customers
    if customers.find(str(image["id"])) is not None:
        raise Conflict("This merge was already undone: both customers exist.")
    kept_now = customers.find(event.customer_id)
    if kept_now is None:
        raise Conflict(
            "The customer this merge kept was deleted since; restore it from History first, "
            "then undo the merge."
        )
    if kept_now.version != event.after.get("version"):
        raise Conflict(
            "The customer this merge kept was changed since the merge; undoing it would "
            "overwrite that change."
        )
    kept = _rewrite(scope, kept_now, validate_customer(audit.fields_of(event.before)))
    restored = _reinsert(scope, image)
    scope.duplicates.changed(kept)
    scope.duplicates.changed(restored)
    undo_id = audit.record(
        scope.session,
        scope.tenant_id,
        actor=actor.username,
        action=Action.UNDO_MERGE,
        customer_id=kept.id,
        before=audit.snapshot(kept_now),
        after=audit.snapshot(kept)
        | {"restored": {"id": restored.id, **audit.snapshot(restored)}, "merge_id": event_id},
    )
    return UndoResult(kept, restored, undo_id)


def _reinsert(scope: Scope, image: Mapping[str, Any]) -> CustomerOut:
    """The removed customer back, with its id and creation time, one version on."""
    clean = validate_customer(audit.fields_of(image))
    created_at = image.get("created_at")
    values = new_row(
        scope.tenant_id,
        str(image["id"]),
        clean,
        now=utcnow(),
        created_at=datetime.fromisoformat(created_at) if created_at else None,
        version=int(image.get("version") or 0) + 1,
        region=scope.phone_region,
    )
    if scope.dialect == "sqlite":
        statement: Any = (
            insert(SQLITE_CUSTOMERS)
            .values(seq=next_seq(scope.session, scope.tenant_id), **values)
            .returning(*SQLITE_RETURNING)
        )
    else:
        statement = insert(CUSTOMERS).values(**values).returning(*COLUMNS)
    try:
        with scope.session.begin_nested():
            row = scope.session.execute(statement).one()
    except IntegrityError:
        raise Conflict(
            f"The merge cannot be undone: another customer now uses the email {clean.email}.",
            field="email",
        ) from None
    return out(row)
