"""Form parsing and display helpers of the customer pages (no business rules here)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from flask import abort, g, url_for
from flask_babel import gettext as _
from werkzeug.routing import BuildError

from models.company import company_tz
from models.crm.contact_records import METHODS
from models.errors import InvalidValue, NotFound, PermissionDenied
from models.fields import CUSTOMER_DATA_FIELDS

from .context import db

MAX_LINES = 20


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


def parse_lines(form) -> list[dict]:
    """Product lines posted as product_id[], quantity[], unit_price[]; blank rows skipped."""
    products = form.getlist("product_id")
    quantities = form.getlist("quantity")
    prices = form.getlist("unit_price")
    lines = []
    for i, product in enumerate(products[:MAX_LINES]):
        quantity = quantities[i] if i < len(quantities) else ""
        if not str(product).strip():
            continue
        lines.append(dict(product_id=parse_int(product, "product_id"),
                          quantity=parse_decimal(quantity, "quantity") or Decimal("1"),
                          unit_price=parse_decimal(prices[i] if i < len(prices) else "",
                                                   "unit_price")))
    return lines


def customer_form_data(form) -> dict:
    """The customer data fields present in a posted form. A checkbox comes with a hidden
    "0" before it, so its last value wins."""
    data = {}
    for field, kind in CUSTOMER_DATA_FIELDS.items():
        values = form.getlist(field)
        if values:
            data[field] = values[-1] if kind == "bool" else values[0]
    return data


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


def history_label(action: str) -> str:
    return {"create": _("Customer created"), "claim": _("Claimed"), "screen": _("Screened"),
            "release": _("Released"), "force_release": _("Force-released"),
            "reassign": _("Reassigned"), "set_collaborators": _("Collaborators set"),
            "demote_to_reserve": _("Demoted to the reserve"), "import": _("Imported")
            }.get(action, action)


HELPERS = dict(local_dt=local_dt, method_label=method_label, history_label=history_label,
               link_to=link_to, METHODS=METHODS)
