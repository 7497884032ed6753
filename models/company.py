"""Company-wide settings stored in the database, and the company's calendar day."""
from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.schema import AppSetting
from models.values import Invalid, clean_text

DEFAULTS = {
    "company.name": "达盟科技有限公司",
    "company.time_zone": "Asia/Shanghai",
    # a queue call answered within this many seconds of joining meets the service level
    "wallboard.service_level_seconds": "20",
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


# ---- company settings ------------------------------------------------------------------------

def company_settings(session: Session) -> dict[str, str]:
    return {"company_name": get_setting(session, "company.name"),
            "time_zone": get_setting(session, "company.time_zone")}


def check_time_zone(value: Any) -> str:
    name = "" if value is None else str(value).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Invalid("admin.bad_time_zone", value=name) from None
    if name not in time_zone_names():
        raise Invalid("admin.bad_time_zone", value=name)
    return name


_ZONES: list[str] = []


def time_zone_names() -> list[str]:
    if not _ZONES:
        _ZONES.extend(sorted(available_timezones()))
    return _ZONES


def update_company_settings(session: Session, *, company_name: Any, time_zone: Any) -> None:
    name = clean_text(company_name, "company_name", 200, required=True)
    zone = check_time_zone(time_zone)
    set_setting(session, "company.name", name)
    set_setting(session, "company.time_zone", zone)
