"""Form parsing and display helpers the pages share (no business rules here): the company's
time zone, dates and numbers typed in forms, links to other areas, contact method names."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from flask import abort, g, url_for
from flask_babel import gettext as _
from werkzeug.routing import BuildError

from models.company import company_tz
from models.errors import InvalidValue, NotFound, PermissionDenied

from .context import db


def guarded(fn, *args, **kwargs):
    """Run a loader for a POST route: not found -> 404, not allowed -> 403 (a GET gets the
    same from the app's error handler; a POST would otherwise be flashed and redirected)."""
    try:
        return fn(*args, **kwargs)
    except NotFound:
        abort(404)
    except PermissionDenied:
        abort(403)


def tz():
    if "company_tz" not in g:
        g.company_tz = company_tz(db())
    return g.company_tz


def local_dt(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An aware UTC datetime shown in the company's time zone."""
    if value is None:
        return ""
    return value.astimezone(tz()).strftime(fmt)


def local_naive(value):
    """For spreadsheets: the company-local wall time without tzinfo."""
    return value.astimezone(tz()).replace(tzinfo=None) if value is not None else None


def parse_local_datetime(date_text: str | None, time_text: str | None, field: str):
    """A date (YYYY-MM-DD) and optional time (HH:MM) typed in the company's time zone, as an
    aware UTC datetime; both empty -> None."""
    date_text, time_text = (date_text or "").strip(), (time_text or "").strip()
    if not date_text:
        if time_text:
            raise InvalidValue(field=field)
        return None
    try:
        day = dt.date.fromisoformat(date_text)
        at = dt.time.fromisoformat(time_text) if time_text else dt.time(9, 0)
    except ValueError:
        raise InvalidValue(field=field) from None
    return dt.datetime.combine(day, at, tzinfo=tz()).astimezone(dt.timezone.utc)


def parse_date(text: str | None, field: str):
    text = (text or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidValue(field=field) from None


def parse_decimal(text: str | None, field: str):
    text = (text or "").strip().replace(",", "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidValue(field=field) from None
    if not value.is_finite():
        raise InvalidValue(field=field)
    return value


def parse_int(text, field: str) -> int:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        raise InvalidValue(field=field) from None


def parse_ids(values) -> list[int]:
    return [parse_int(v, "ids") for v in values if str(v).strip()]


def link_to(endpoint: str, **values) -> str | None:
    """URL of another area's page, or None while that area is not there (or names its
    arguments differently)."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def method_label(method: str) -> str:
    return {"phone": _("Phone call"), "visit": _("Visit"), "email": _("E-mail"),
            "sms": _("SMS"), "fax": _("Fax"), "qq": _("QQ"), "wechat": _("WeChat"),
            "other": _("Other")}.get(method, method)
