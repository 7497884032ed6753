"""Days the dialer does not call: China's public holidays plus the company's own list.

The national list is data from the State Council's notice (国务院办公厅关于2026年部分节假日安排的
通知, 2025-11-04): the days off, not the swapped working weekends. The company's extra days are
kept in app_settings under ``dialing.holidays`` as comma-separated ISO dates."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy.orm import Session

from models.errors import InvalidValue, PermissionDenied
from models.schema import AppSetting, User


def _span(first: str, last: str) -> set[dt.date]:
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return {start + dt.timedelta(days=i) for i in range((end - start).days + 1)}


CN_PUBLIC_HOLIDAYS: frozenset[dt.date] = frozenset().union(
    _span("2026-01-01", "2026-01-03"),   # 元旦
    _span("2026-02-15", "2026-02-23"),   # 春节
    _span("2026-04-04", "2026-04-06"),   # 清明节
    _span("2026-05-01", "2026-05-05"),   # 劳动节
    _span("2026-06-19", "2026-06-21"),   # 端午节
    _span("2026-09-25", "2026-09-27"),   # 中秋节
    _span("2026-10-01", "2026-10-07"),   # 国庆节
)

COMPANY_KEY = "dialing.holidays"
MAX_COMPANY_DAYS = 45   # what fits the 500-character setting


def company_holidays(session: Session) -> frozenset[dt.date]:
    row = session.get(AppSetting, COMPANY_KEY)
    if row is None or not row.value:
        return frozenset()
    return frozenset(dt.date.fromisoformat(part) for part in row.value.split(","))


def holiday_dates(session: Session) -> frozenset[dt.date]:
    """National and company holidays."""
    company = company_holidays(session)
    return CN_PUBLIC_HOLIDAYS | company if company else CN_PUBLIC_HOLIDAYS


def set_company_holidays(session: Session, actor: User, days: Iterable[dt.date | str]) -> list[dt.date]:
    """Replace the company's extra days off (managers and admins)."""
    if not actor.role.can_manage:
        raise PermissionDenied()
    parsed = set()
    for day in days:
        if isinstance(day, dt.datetime) or not isinstance(day, (dt.date, str)):
            raise InvalidValue("holiday.bad_date", value=str(day)[:40])
        try:
            parsed.add(day if isinstance(day, dt.date) else dt.date.fromisoformat(day.strip()))
        except ValueError:
            raise InvalidValue("holiday.bad_date", value=day[:40]) from None
    if len(parsed) > MAX_COMPANY_DAYS:
        raise InvalidValue("holiday.too_many", max=MAX_COMPANY_DAYS)
    ordered = sorted(parsed)
    value = ",".join(day.isoformat() for day in ordered)
    row = session.get(AppSetting, COMPANY_KEY)
    if row is None:
        session.add(AppSetting(key=COMPANY_KEY, value=value))
    else:
        row.value = value
    session.flush()
    return ordered
