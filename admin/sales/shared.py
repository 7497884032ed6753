"""What the sales pages share: display helpers for their templates, form parsing, list
arguments and the export switch. Rules live in models.crm.sales / models.crm.sales_lists."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from itertools import zip_longest

from flask import abort, request
from flask_babel import gettext as _

from models.company import company_tz
from models.crm.visibility import get_visible_customer
from models.errors import InvalidValue

from ..context import clock, current_user, db
from ..forms import parse_date
from . import bp


PER_PAGE = 20
BLANK_ITEM_ROWS = 5


# ---- display helpers (templates of this blueprint only) --------------------------------------

def money(value) -> str:
    return "" if value is None else f"{Decimal(value):,.2f}"


def quantity(value) -> str:
    if value is None:
        return ""
    text = f"{Decimal(value):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@bp.context_processor
def _helpers():
    tz = company_tz(db())

    def when(value) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else ""

    def local_input(value) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%dT%H:%M") if value else ""

    def day(value) -> str:
        return value.isoformat() if value else ""

    return dict(money=money, quantity=quantity, when=when, local_input=local_input, day=day,
                variant_label=variant_label, sort_label=sort_label)


def variant_label(variant: str) -> str:
    return {"selling": _("My selling opportunities"), "paused": _("My paused opportunities"),
            "all": _("All I may see"), "follow_up": _("Follow-up in progress"),
            "follow_up_all": _("Follow-up all"), "mine": _("My orders")}.get(variant, variant)


def sort_label(key: str) -> str:
    return {"title": _("Opportunity title"), "customer": _("Customer"), "amount": _("Amount"),
            "state": _("State"), "expected_close_on": _("Expected close"),
            "next_callback_at": _("Next callback"), "created_at": _("Created"),
            "owner": _("Opportunity owner"), "number": _("Order number"), "ordered_on": _("Order date"),
            "payment_status": _("Payment"), "shipping_status": _("Shipping"),
            "seller": _("Seller"), "follower": _("Follower")}.get(key, key)


# ---- form parsing ---------------------------------------------------------------------------

def form_text(name: str) -> str:
    return (request.form.get(name) or "").strip()


def form_int(value: str | None, field: str) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidValue(field=field) from None


def customer_of_request(session, user):
    """The customer a new opportunity or order is for (?customer_id=), if the user may open it."""
    customer_id = form_int(request.values.get("customer_id"), "customer_id")
    if customer_id is None:
        abort(404)
    return get_visible_customer(session, user, customer_id)


def form_date(name: str) -> dt.date | None:
    return parse_date(form_text(name), name)


def form_local_datetime(name: str) -> dt.datetime | None:
    """A datetime-local input, read in the company's time zone."""
    value = form_text(name)
    if not value:
        return None
    try:
        naive = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidValue(field=name) from None
    if naive.tzinfo is not None:
        raise InvalidValue(field=name)
    return naive.replace(tzinfo=company_tz(db())).astimezone(dt.timezone.utc)


def form_decimal(name: str) -> Decimal | None:
    value = form_text(name)
    if not value:
        return None
    try:
        return Decimal(value)
    except ArithmeticError:
        raise InvalidValue(field=name) from None


def form_items() -> list[dict]:
    """Line items from the parallel product_id / product_name / quantity / unit_price rows."""
    columns = [request.form.getlist(k) for k in ("product_id", "product_name", "quantity",
                                                 "unit_price")]
    items = []
    for product_id, name, qty, price in zip_longest(*columns, fillvalue=""):
        if not any(v.strip() for v in (product_id, name, qty, price)):
            continue
        items.append(dict(product_id=form_int(product_id, "product_id"),
                          product_name=name.strip(), quantity=qty.strip() or None,
                          unit_price=price.strip() or None))
    return items


def list_args(default_variant: str, variants, sorts) -> dict:
    args = request.args
    variant = args.get("variant", default_variant)
    if variant not in variants:
        abort(404)
    sort = args.get("sort") if args.get("sort") in sorts else None
    direction = args.get("dir") if args.get("dir") in ("asc", "desc") else None
    try:
        page = max(int(args.get("page", 1)), 1)
    except ValueError:
        page = 1
    return dict(variant=variant, sort=sort, dir=direction, page=page,
                q=(args.get("q") or "").strip()[:100])


def naive_local(value, tz):
    """An aware datetime as naive company time, for spreadsheets."""
    return value.astimezone(tz).replace(tzinfo=None) if value else None


def export_format() -> str | None:
    fmt = request.args.get("export")
    if fmt not in ("xlsx", "csv"):
        return None
    if not current_user().role.can_export:
        abort(403)
    return fmt


def today() -> dt.date:
    return clock().now().astimezone(company_tz(db())).date()
