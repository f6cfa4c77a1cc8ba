"""Search: a case-insensitive substring of a customer's searchable fields, per database.

* PostgreSQL: ``search_text`` (the searchable fields in one generated column) carries a
  trigram index; each field is checked again so a term cannot match across two of them.
* SQLite: an FTS5 index with the trigram tokenizer, whose rowids are the customers'
  ``seq``.  Each tenant's customers have a rowid range of their own
  (``data.customers.writes``), so the index is read within the tenant's range only and
  a search costs the same whatever other tenants hold.  Terms shorter than a trigram
  use ``LIKE`` (with the case variants SQLite's ASCII-only folding misses).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, or_, select, text
from sqlalchemy.orm import Session

from data.customers.columns import COLUMNS, C, Count
from data.customers.writes import seq_range
from data.fields import SEARCHABLE
from data.schemas import check_search
from data.text import like_pattern

# PostgreSQL only: the searchable fields in one generated column with a trigram index.
SEARCH_TEXT: ColumnElement[str] = literal_column("customers.search_text")
# Searches count their matches up to this many; beyond it the total is "more than".  On
# PostgreSQL the count also chooses the page's plan (see ``CustomerRepository.list``):
# counting 10,000 of a common name's 40,000 matches in a million customers read 9,000
# table pages (47 ms).
COUNT_CAP = 1_000
# PostgreSQL: the plan types a search's statements go without (``Search.planner_off``).
COUNT_PLAN = ("enable_seqscan", "enable_indexscan")  # the count: by the trigram index
FEW_PLAN = ("enable_seqscan", "enable_indexscan", "jit")  # few matches: the same, sorted
WALK_PLAN = ("enable_bitmapscan", "enable_seqscan", "enable_sort", "jit")  # many matches
# SQLite only: the rowid of a customer (not in the shared model: PostgreSQL has none).
SEQ: ColumnElement[int] = literal_column("customers.seq")
# SQLite: a search with at most this many matches in the tenant reads them by rowid.
FTS_FEW = 2000


def fts_phrase(term: str) -> str:
    """An FTS5 query for ``term`` as one quoted phrase (a substring, with the trigram index)."""
    return '"' + term.replace('"', '""') + '"'


def case_variants(term: str) -> list[str]:
    """Spellings of a short ``term`` that differ in the case of its non-ASCII letters.

    SQLite's ``LIKE`` folds ASCII letters only; ``"ö"`` must still find ``"Özil"``.
    Used for terms too short for the trigram index (one or two characters).
    """
    options = [sorted({c, c.lower(), c.upper()}) if not c.isascii() else [c] for c in term]
    return ["".join(combination) for combination in itertools.product(*options)]


class Search:
    """The search of one tenant's customers in one session."""

    def __init__(
        self,
        session: Session,
        tenant_id: str,
        *,
        count_cap: int = COUNT_CAP,
        fts_few: int = FTS_FEW,
    ) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.dialect = session.get_bind().dialect.name
        self.count_cap = count_cap
        self.fts_few = fts_few

    def scoped(self) -> Select[Any]:
        return select(*COLUMNS).where(C.tenant_id == self.tenant_id)

    # -- SQLite: the tenant's range of the FTS index -----------------------------------

    def _fts(self, term: str, limit: int, *, count: bool = False) -> Any:
        low, high = seq_range(self.session, self.tenant_id)
        inner = (
            "SELECT rowid FROM customers_fts WHERE customers_fts MATCH :phrase "
            "AND rowid >= :low AND rowid < :high LIMIT :limit"
        )
        sql = f"SELECT count(*) FROM ({inner})" if count else inner
        return self.session.execute(
            text(sql),
            {"phrase": fts_phrase(term), "low": low, "high": high, "limit": limit},
        )

    def _fts_rows(self, term: str, limit: int) -> list[int]:
        """SQLite: rowids of this tenant's customers matching ``term`` (at most ``limit``)."""
        return [int(rowid) for rowid in self._fts(term, limit).scalars()]

    def _fts_matches(self, term: str) -> Any:
        low, high = seq_range(self.session, self.tenant_id)
        return (
            text(
                "SELECT rowid FROM customers_fts WHERE customers_fts MATCH :phrase "
                "AND rowid >= :low AND rowid < :high"
            )
            .bindparams(phrase=fts_phrase(term), low=low, high=high)
            .columns(literal_column("rowid"))
        )

    # -- the query ---------------------------------------------------------------------

    def clause(self, term: str) -> ColumnElement[bool]:
        """Rows of the tenant whose searchable fields contain ``term``."""
        if self.dialect == "postgresql":
            pattern = like_pattern(term)
            return and_(
                SEARCH_TEXT.ilike(pattern, escape="\\"),
                or_(*(C[name].ilike(pattern, escape="\\") for name in SEARCHABLE)),
            )
        if len(term) >= 3:
            # Many matches: walking the sort's index finds a page of them within a few
            # rows (few are read by rowid instead: see ``filtered``).
            return SEQ.in_(self._fts_matches(term))
        clauses = []
        for variant in case_variants(term):
            pattern = like_pattern(variant)
            clauses += [C[name].like(pattern, escape="\\") for name in SEARCHABLE]
        return or_(*clauses)

    def filtered(self, search: str | None) -> Select[Any]:
        """The tenant's customers, or those matching ``search`` (no order, no limit)."""
        term = (search or "").strip()
        if not term:
            return self.scoped()
        check_search(term)
        if self.dialect == "sqlite" and len(term) >= 3:
            few = self._fts_rows(term, self.fts_few + 1)
            if len(few) <= self.fts_few:
                # Few matches in this tenant: read just those rows by rowid and sort them.
                # The unary + keeps SQLite from walking the tenant's sort index instead,
                # through every customer in search of them (0.36 s for one match among a
                # million).  The rowids are the tenant's range: both say so.
                return select(*COLUMNS).where(
                    literal_column("+customers.tenant_id") == self.tenant_id,
                    SEQ.in_(few),
                )
        return self.scoped().where(self.clause(term))

    def count(self, search: str | None = None) -> Count:
        """Matches of ``search``, up to ``count_cap`` (then a lower bound)."""
        term = (search or "").strip()
        if self.dialect == "sqlite" and len(term) >= 3:
            return self._capped(
                int(self._fts(check_search(term), self.count_cap + 1, count=True).scalar_one())
            )
        # Through the trigram index: with its guess of a handful of matches, the planner
        # would otherwise walk the tenant's rows looking for ``cap`` of them, and read
        # them all when there are fewer (2.3 s for a term with no match in a million).
        with self.planner_off(*COUNT_PLAN):
            return self._capped(int(self.session.execute(self._counting(term)).scalar_one()))

    def _counting(self, term: str) -> Select[Any]:
        """The count of ``term``'s matches, stopped at ``count_cap + 1``."""
        capped = self.filtered(term).with_only_columns(C.id).limit(self.count_cap + 1)
        return select(func.count()).select_from(capped.subquery())

    def _capped(self, n: int) -> Count:
        return Count(self.count_cap, exact=False) if n > self.count_cap else Count(n)

    def count_and_page(
        self, term: str, query: Select[Any], offset: int, limit: int
    ) -> tuple[Count, Sequence[Any]]:
        """PostgreSQL: ``count(term)`` and one page of ``query`` with the plan its number of
        matches wants (``_page_plan``), in five round trips: the settings of the count
        become those of the page in one statement, and all are put back after the page."""
        original = self._set_local(self._changes(COUNT_PLAN))  # as in ``count``
        total = self._capped(int(self.session.execute(self._counting(term)).scalar_one()))
        plan, parallel = self._page_plan(total, offset, limit)
        wanted = self._changes(plan, parallel=parallel)
        # The count's settings the page does not want go back to what they were.
        transition = {name: original[name] for name in original if name not in wanted}
        was = self._set_local(transition | wanted)
        original |= {name: value for name, value in was.items() if name not in original}
        rows = self.session.execute(query).all()
        self._set_local(original)
        return total, rows

    def _page_plan(self, total: Count, offset: int, limit: int) -> tuple[tuple[str, ...], bool]:
        """The plan types a search page goes without, and whether it may go parallel.

        More matches than ``count_cap`` and a page within them: read the sort's index
        until the page is full.  The planner cannot estimate how many rows a substring
        matches (it guessed 9 for the 40,000 customers named Nakamura among a million), so
        it would read every match through the trigram index and sort them (28,000 table
        pages, 170 ms) where the first pages are within a few thousand rows of the sort's
        index; neither JIT compilation nor parallel workers pay for reading a page (20 ms
        of compiling and starting).  At most ``count_cap`` matches: read them through the
        trigram index and sort them (the planner, guessing, might walk the tenant).
        """
        if not total.exact and offset + limit <= self.count_cap:
            return WALK_PLAN, False
        if total.exact:
            return FEW_PLAN, True
        return (), True

    @staticmethod
    def _changes(settings: Sequence[str], parallel: bool = True) -> dict[str, str]:
        # A statement prepared on this connection (``data.db``) may run a generic plan,
        # made once without the values and under the settings of that moment: a search
        # is planned for its own term, under these settings, every time.
        changes = {"plan_cache_mode": "force_custom_plan"}
        changes |= dict.fromkeys(settings, "off")
        if not parallel:
            changes["max_parallel_workers_per_gather"] = "0"
        return changes

    @contextmanager
    def planner_off(self, *settings: str, parallel: bool = True) -> Iterator[None]:
        """PostgreSQL: plan the statements inside without these plan types where possible
        (and, unless ``parallel``, without parallel workers).

        ``SET LOCAL`` would last to the end of the transaction: they are put back after.
        Not on an error: the transaction is then rolled back, which undoes them, and a
        statement in a failed transaction would hide the error.  Nothing on SQLite.
        """
        if self.dialect != "postgresql":
            yield
            return
        changes = self._changes(settings, parallel)
        # One round trip each way (this is on every search): set_config(..., true) is
        # SET LOCAL, and returns beside it the value each had, which is put back after.
        # (Reading reset_val from pg_settings instead cost 1-1.7 ms: that view builds a
        # row for every setting there is.)
        saved = self._set_local(changes)
        yield
        self._set_local(saved)

    def _set_local(self, changes: dict[str, str]) -> dict[str, str]:
        """PostgreSQL: ``SET LOCAL`` these settings; returns the values they had."""
        rows = self.session.execute(
            text(
                "WITH c AS MATERIALIZED (SELECT n, v, current_setting(n) AS was "
                "FROM unnest(CAST(:names AS text[]), CAST(:values AS text[])) AS c(n, v)) "
                "SELECT n, was, set_config(n, v, true) FROM c"
            ),
            {"names": list(changes), "values": list(changes.values())},
        ).all()
        return {str(row[0]): str(row[1]) for row in rows}
