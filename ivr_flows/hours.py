"""Business hours of an `hours` step: weekly hours, holidays and make-up working days (调休).

    hours:
      time_zone: Asia/Shanghai              # default
      mon-fri: 09:00-12:00, 13:30-18:00     # one or more ranges; a list works too
      sat: 09:00-12:00
      sun: closed                           # days not listed are closed as well
      holidays: [2026-10-01..2026-10-07, 2026-01-01]
      workdays: [2026-09-20, 2026-10-10]    # 调休: these days run an ordinary Monday's hours

Times are the company's wall clock in `time_zone`; a range may end at 24:00.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_TIME_ZONE = "Asia/Shanghai"
MAX_RANGE_DAYS = 92
_TIME = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")
_DATE_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})$")

Interval = tuple[int, int]  # minutes since local midnight, [start, end)


@dataclasses.dataclass(frozen=True)
class Timetable:
    time_zone: str
    week: tuple[tuple[Interval, ...], ...]          # Monday first
    holidays: frozenset = frozenset()
    workdays: frozenset = frozenset()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def intervals(self, day: dt.date) -> tuple[Interval, ...]:
        if day in self.holidays:
            return ()
        if day in self.workdays:
            return self.week[0] or next((w for w in self.week if w), ())
        return self.week[day.weekday()]

    def _bounds(self, day: dt.date, interval: Interval) -> tuple[dt.datetime, dt.datetime]:
        midnight = dt.datetime.combine(day, dt.time(0), tzinfo=self.tz)
        return (midnight + dt.timedelta(minutes=interval[0]),
                midnight + dt.timedelta(minutes=interval[1]))

    def is_open(self, now: dt.datetime) -> bool:
        local = now.astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.intervals(local.date()))

    def next_open(self, now: dt.datetime) -> dt.datetime | None:
        """`now` when open, else the next opening time (aware, UTC); None if never within a year."""
        if self.is_open(now):
            return now
        local = now.astimezone(self.tz)
        for offset in range(0, 400):
            day = local.date() + dt.timedelta(days=offset)
            for interval in self.intervals(day):
                start, _end = self._bounds(day, interval)
                if start > now:
                    return start.astimezone(dt.timezone.utc)
        return None


def _parse_time(text: str) -> int | None:
    match = _TIME.match(text.strip())
    if not match:
        return None
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    return minutes if minutes <= 24 * 60 else None


def parse_ranges(value) -> tuple[tuple[Interval, ...] | None, str]:
    """"09:00-12:00, 13:30-18:00" (or a list of ranges, or closed) -> intervals, error."""
    if value is None or value is False or (isinstance(value, str) and value.strip().lower()
                                           in ("closed", "休息", "")):
        return (), ""
    parts = list(value) if isinstance(value, list) else str(value).split(",")
    out = []
    for part in parts:
        text = str(part).strip()
        if "-" not in text:
            return None, f"bad time range {text!r}: write HH:MM-HH:MM, e.g. 09:00-18:00"
        left, right = text.split("-", 1)
        start, end = _parse_time(left), _parse_time(right)
        if start is None or end is None:
            return None, f"bad time range {text!r}: write HH:MM-HH:MM, e.g. 09:00-18:00"
        if end <= start:
            return None, f"time range {text!r} ends before it starts"
        out.append((start, end))
    return tuple(sorted(out)), ""


def parse_days(key) -> tuple[list[int] | None, str]:
    """'mon', 'mon-fri', 'sat,sun' -> weekday numbers (Monday 0)."""
    out: list[int] = []
    for part in str(key).lower().split(","):
        part = part.strip()
        if "-" in part:
            a, b = (p.strip() for p in part.split("-", 1))
            if a not in WEEKDAYS or b not in WEEKDAYS:
                return None, f"unknown weekday range {key!r} (use mon..sun, e.g. mon-fri)"
            i, j = WEEKDAYS.index(a), WEEKDAYS.index(b)
            if j < i:
                return None, f"weekday range {key!r} runs backwards"
            out.extend(range(i, j + 1))
        elif part in WEEKDAYS:
            out.append(WEEKDAYS.index(part))
        else:
            return None, f"unknown hours key {key!r} (weekdays mon..sun, ranges like mon-fri, " \
                         "time_zone, holidays, workdays)"
    return out, ""


def parse_dates(value) -> tuple[frozenset | None, list[tuple[int, str]]]:
    """A list of dates (YAML dates, 'YYYY-MM-DD' or 'YYYY-MM-DD..YYYY-MM-DD') -> set, errors
    as (index in the list, message)."""
    if value is None:
        return frozenset(), []
    if not isinstance(value, list):
        return None, [(-1, "must be a list of dates, e.g. [2026-10-01..2026-10-07, 2026-01-01]")]
    days: set[dt.date] = set()
    errors: list[tuple[int, str]] = []
    for index, item in enumerate(value):
        if isinstance(item, dt.datetime):
            errors.append((index, f"{item} is a date and time; give the date only"))
        elif isinstance(item, dt.date):
            days.add(item)
        else:
            text = str(item).strip()
            match = _DATE_RANGE.match(text)
            try:
                if match:
                    first, last = (dt.date.fromisoformat(g) for g in match.groups())
                    if last < first or (last - first).days > MAX_RANGE_DAYS:
                        raise ValueError
                    days.update(first + dt.timedelta(days=n) for n in range((last - first).days + 1))
                else:
                    days.add(dt.date.fromisoformat(text))
            except ValueError:
                errors.append((index, f"bad date {text!r}: write YYYY-MM-DD or "
                                      "YYYY-MM-DD..YYYY-MM-DD"))
    return frozenset(days), errors


def check_time_zone(name) -> str:
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r} (e.g. Asia/Shanghai)"
    return ""
