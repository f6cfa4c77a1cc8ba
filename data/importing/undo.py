"""Undo of an import, set-based: remove what it created, put back what it changed.

``import_changes`` holds, per customer the import touched, what the import made of it
(``kind``, ``version_after``) and, for an update, its stored columns as they were
(``before``: every field and derived key, as JSON).  The undo restores those columns
with one ``UPDATE ... FROM`` and deletes the created customers with one ``DELETE``; a
customer edited since the import (its version moved on) is left alone and reported, one
deleted since is counted as gone.  A migration that adds a field or a key also adds it
to the before-images it keeps (as migration 0003 did for ``email_key``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from data import audit
from data.customers.columns import C
from data.customers.writes import stamp
from data.duplicates.bulk import after_import
from data.errors import Conflict, NotFound
from data.identity import Permission
from data.importing.results import UndoSummary
from data.importing.staging import affected
from data.importing.validation import STORED
from data.importing.write import CHANGES
from data.models import CUSTOMERS, Action, utcnow

if TYPE_CHECKING:
    from data.scope import Scope

IC = CHANGES.c


def undo_import(scope: Scope, import_id: str) -> UndoSummary:
    """Undo the import ``import_id`` of the scope's tenant; one audit event records it.

    Requires the import permission, read from the database in the scope's transaction.
    Raises ``NotFound`` for an import of another tenant or none at all, ``Conflict``
    when there is nothing (left) to undo or an email it would put back is taken.
    """
    actor = scope.require(Permission.IMPORT)
    session, tenant = scope.session, scope.tenant_id
    event = scope.audit.get(import_id)
    if event is None or event.action != Action.IMPORT.value:
        raise NotFound("import")
    of_import = and_(IC.tenant_id == tenant, IC.import_id == import_id)
    pending = session.execute(select(func.count()).where(of_import)).scalar_one()
    if pending == 0:
        raise Conflict("This import was already undone, or it changed nothing.")
    its_customer = and_(C.tenant_id == IC.tenant_id, C.id == IC.customer_id)
    refused = [
        str(customer_id)
        for customer_id in session.execute(
            select(IC.customer_id)
            .select_from(CHANGES.join(CUSTOMERS, its_customer))
            .where(of_import, C.version != IC.version_after)
            .order_by(IC.customer_id)
        ).scalars()
    ]
    gone = session.execute(
        select(func.count()).where(of_import, ~exists().where(its_customer))
    ).scalar_one()
    now = utcnow()
    try:
        with session.begin_nested():
            restored = affected(
                session,
                update(CUSTOMERS)
                .where(of_import, IC.kind == "updated", its_customer, C.version == IC.version_after)
                .values({**{name: IC.before[name].as_string() for name in STORED}, **stamp(now)}),
            )
    except IntegrityError:
        raise Conflict(
            "The import cannot be undone: another customer now uses an email it would put back."
        ) from None
    removed = affected(
        session,
        delete(CUSTOMERS).where(
            C.tenant_id == tenant,
            C.id.in_(
                select(IC.customer_id).where(
                    of_import, IC.kind == "created", IC.version_after == C.version
                )
            ),
        ),
    )
    # The duplicate pairs of the customers it touched, found again (while the rows
    # naming them are still here).
    after_import(scope, import_id)
    # Done with what was undone or is gone; refused rows stay, for a later try.
    session.execute(
        delete(CHANGES).where(
            of_import,
            ~exists().where(
                its_customer,
                or_(IC.kind == "created", and_(IC.kind == "updated", C.updated_at != now)),
            ),
        )
    )
    summary = UndoSummary(import_id, removed, restored, refused, int(gone))
    audit.record(
        session,
        tenant,
        actor=actor.username,
        action=Action.UNDO_IMPORT,
        customer_id=None,
        before=None,
        after={
            "import_id": import_id,
            "removed": summary.removed,
            "restored": summary.restored,
            "refused": len(refused),
            "gone": summary.gone,
        },
    )
    return summary
