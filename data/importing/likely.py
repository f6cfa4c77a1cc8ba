"""Which rows of an import look like a customer the tenant has already (the preview).

A row that matches an existing customer by its email is that customer: the plan updates
or skips it (``plan``).  A row that matches *another* customer by its other keys — the
same phone, the same mailbox written differently (Gmail dots, ``+tags``), or a similar
name at the same company domain or address — is a likely duplicate the user should see
before importing.  The rules are the Duplicates page's (``data.duplicates``), applied
to the first rows of the file, the ones the preview shows.
"""

from __future__ import annotations

from sqlalchemy import select

from data.duplicates.finder import pairs_for
from data.duplicates.lookup import sharing
from data.duplicates.records import Candidate, Pair
from data.duplicates.scoring import DEFAULT_SETTINGS, FinderSettings
from data.duplicates.service import REASON_LABELS
from data.importing.staging import IMPORT_ROWS, Stage
from data.models import CUSTOMERS

R = IMPORT_ROWS.c
C = CUSTOMERS.c


def likely_duplicates(
    stage: Stage, last_line: int, settings: FinderSettings = DEFAULT_SETTINGS
) -> dict[int, str]:
    """Staged lines up to ``last_line`` → a sentence naming the customer each looks like."""
    rows = stage.session.execute(
        select(
            R.line,
            R.customer_id,
            R.name_key,
            R.email_canon,
            R.email_domain,
            R.phone_key,
            R.address_key,
        )
        .where(R.line <= last_line)
        .order_by(R.line)
    ).all()
    found: dict[int, list[tuple[str, Pair]]] = {}
    for row in rows:
        row_id = row.customer_id or f"line-{row.line}"
        candidate = Candidate(
            id=row_id,
            name_key=row.name_key or "",
            email_canon=row.email_canon,
            email_domain=row.email_domain,
            phone_key=row.phone_key,
            address_key=row.address_key,
        )
        others = [
            other
            for other in sharing(stage.session, stage.tenant_id, candidate, settings)
            if other.id != row_id
        ]
        pairs = pairs_for(candidate, others, settings)
        if pairs:
            found[int(row.line)] = [
                (pair.id_b if pair.id_a == row_id else pair.id_a, pair) for pair in pairs
            ]
    wanted = {other for matches in found.values() for other, _ in matches[:1]}
    names: dict[str, str] = {
        row.id: row.name
        for row in stage.session.execute(
            select(C.id, C.name).where(C.tenant_id == stage.tenant_id, C.id.in_(wanted))
        )
    }
    sentences: dict[int, str] = {}
    for line, matches in found.items():
        other, pair = matches[0]
        reasons = ", ".join(REASON_LABELS[reason] for reason in pair.reasons)
        text = f"Looks like {names.get(other, 'an existing customer')} ({reasons})"
        if len(matches) > 1:
            text += f" and {len(matches) - 1} more"
        sentences[line] = text
    return sentences
