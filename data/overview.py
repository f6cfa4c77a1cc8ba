"""Figures for the Overview page: counts, gaps, suspected duplicates, growth over time.

Suspected duplicates are the open pairs of the Duplicates page (``data.duplicates``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Date, cast, func, or_, select
from sqlalchemy.orm import Session

from data.duplicates.service import open_pair_count
from data.models import CUSTOMERS, CustomerCount, utcnow

C = CUSTOMERS.c


@dataclass(frozen=True)
class Overview:
    customers: int
    added_this_week: int
    added_this_month: int
    missing_phone: int
    missing_address: int
    missing_phone_or_address: int
    duplicate_pairs: int  # open pairs of the Duplicates page
    added_per_day: list[tuple[date, int]]


def _day(session: Session):  # type: ignore[no-untyped-def]
    if session.get_bind().dialect.name == "sqlite":
        # SQLite keeps UTC timestamps as 'YYYY-MM-DD HH:MM:SS...' text.
        return func.substr(C.created_at, 1, 10)
    return cast(func.timezone("UTC", C.created_at), Date)


def overview(session: Session, tenant_id: str, *, days: int = 90) -> Overview:
    """All figures for one tenant, each one query that leads with ``tenant_id``."""
    mine = C.tenant_id == tenant_id
    now = utcnow()
    week_start = (now - timedelta(days=now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)

    def count(*conditions: object) -> int:
        return int(
            session.execute(
                select(func.count()).select_from(CUSTOMERS).where(mine, *conditions)  # type: ignore[arg-type]
            ).scalar_one()
        )

    total = session.execute(
        select(CustomerCount.n).where(CustomerCount.tenant_id == tenant_id)
    ).scalar()
    gaps = session.execute(
        select(
            func.count().filter(C.phone.is_(None)),
            func.count().filter(C.address.is_(None)),
            func.count().filter(or_(C.phone.is_(None), C.address.is_(None))),
        ).where(mine)
    ).one()

    day = _day(session)
    since = (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    per_day = session.execute(
        select(day.label("day"), func.count())
        .where(mine, C.created_at >= since)
        .group_by(day)
        .order_by(day)
    ).all()

    return Overview(
        customers=int(total or 0),
        added_this_week=count(C.created_at >= week_start),
        added_this_month=count(C.created_at >= month_start),
        missing_phone=int(gaps[0]),
        missing_address=int(gaps[1]),
        missing_phone_or_address=int(gaps[2]),
        duplicate_pairs=open_pair_count(session, tenant_id),
        added_per_day=[(_as_date(row[0]), int(row[1])) for row in per_day],
    )


def _as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
