"""Company-wide settings stored in the database, and the company's calendar day."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from .schema import AppSetting

DEFAULTS = {
    "company.name": "达盟科技有限公司",
    "company.time_zone": "Asia/Shanghai",
}


def get_setting(session: Session, key: str) -> str:
    value = session.scalar(select(AppSetting.value).where(AppSetting.key == key))
    return value if value is not None else DEFAULTS[key]


def set_setting(session: Session, key: str, value: str) -> None:
    row = session.get(AppSetting, key)
    if row is None:
        session.add(AppSetting(key=key, value=value))
    else:
        row.value = value
    session.flush()


def company_tz(session: Session) -> ZoneInfo:
    return ZoneInfo(get_setting(session, "company.time_zone"))


def company_today(session: Session, now: dt.datetime) -> dt.date:
    return now.astimezone(company_tz(session)).date()


def day_bounds(tz: ZoneInfo, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a calendar day in `tz`, as aware UTC datetimes."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)
