"""Opportunities (商机) and orders (订单): lists, detail pages, their actions and the printable
quotation and coordination sheets (C7). Rules live in models.crm.sales / models.crm.sales_lists."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from itertools import zip_longest

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.company import company_tz, get_setting
from models.crm.sales import (
    add_order_follow_up,
    create_opportunity,
    create_order,
    set_opportunity_state,
    update_order_status,
)
from models.crm.sales_lists import (
    OPPORTUNITY_SORTS,
    OPPORTUNITY_VARIANTS,
    ORDER_SORTS,
    active_products,
    assignable_users,
    get_opportunity,
    get_order,
    list_opportunities,
    list_orders,
    may_update_order,
    opportunity_counts,
    order_counts,
    order_follow_ups,
    order_variants_for,
    orders_from_opportunity,
    set_opportunity_callback,
    tracking_sheet,
    user_names,
)
from models.crm.visibility import get_visible_customer
from models.errors import InvalidValue
from models.schema.sales import OPPORTUNITY_STATES, ORDER_STATES, PAYMENT_STATUSES, SHIPPING_STATUSES

from ..context import clock, current_user, db
from ..forms import parse_date
from ..labels import mark_label
from ..paging import page_size
from ..spreadsheet import export_response
from . import bp
from .pdf import pdf_response, render_pdf


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

def _text(name: str) -> str:
    return (request.form.get(name) or "").strip()


def _int(value: str | None, field: str) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidValue(field=field) from None


def _date(name: str) -> dt.date | None:
    return parse_date(_text(name), name)


def _local_datetime(name: str) -> dt.datetime | None:
    """A datetime-local input, read in the company's time zone."""
    value = _text(name)
    if not value:
        return None
    try:
        naive = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidValue(field=name) from None
    if naive.tzinfo is not None:
        raise InvalidValue(field=name)
    return naive.replace(tzinfo=company_tz(db())).astimezone(dt.timezone.utc)


def _decimal(name: str) -> Decimal | None:
    value = _text(name)
    if not value:
        return None
    try:
        return Decimal(value)
    except ArithmeticError:
        raise InvalidValue(field=name) from None


def _form_items() -> list[dict]:
    """Line items from the parallel product_id / product_name / quantity / unit_price rows."""
    columns = [request.form.getlist(k) for k in ("product_id", "product_name", "quantity",
                                                 "unit_price")]
    items = []
    for product_id, name, qty, price in zip_longest(*columns, fillvalue=""):
        if not any(v.strip() for v in (product_id, name, qty, price)):
            continue
        items.append(dict(product_id=_int(product_id, "product_id"),
                          product_name=name.strip(), quantity=qty.strip() or None,
                          unit_price=price.strip() or None))
    return items


def _list_args(default_variant: str, variants, sorts) -> dict:
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


def _local(value, tz):
    """An aware datetime as naive company time, for spreadsheets."""
    return value.astimezone(tz).replace(tzinfo=None) if value else None


def _export_format() -> str | None:
    fmt = request.args.get("export")
    if fmt not in ("xlsx", "csv"):
        return None
    if not current_user().role.can_export:
        abort(403)
    return fmt


# ---- opportunities ---------------------------------------------------------------------------

@bp.route("/opportunities")
def opportunities():
    user, session = current_user(), db()
    args = _list_args("selling", OPPORTUNITY_VARIANTS, OPPORTUNITY_SORTS)
    query = dict(sort=args["sort"], descending=None if args["dir"] is None else args["dir"] == "desc",
                 search=args["q"])
    fmt = _export_format()
    if fmt:
        result = list_opportunities(session, user, args["variant"], per_page=None, **query)
        headers = [_("Customer"), _("Opportunity title"), _("Amount"), _("State"), _("Expected close"),
                   _("Next callback"), _("Opportunity owner"), _("Created")]
        tz = company_tz(session)
        rows = [(r.customer_name, r.opportunity.title, r.opportunity.amount,
                 mark_label(r.opportunity.state), r.opportunity.expected_close_on,
                 _local(r.opportunity.next_callback_at, tz), r.owner_name,
                 _local(r.opportunity.created_at, tz)) for r in result.rows]
        return export_response(headers, rows, _("Opportunities"), fmt)
    result = list_opportunities(session, user, args["variant"], page=args["page"],
                                per_page=page_size(PER_PAGE), **query)
    return render_template("sales/opportunities.html", page=result, args=args,
                           variants=OPPORTUNITY_VARIANTS, counts=opportunity_counts(session, user),
                           sorts=OPPORTUNITY_SORTS)


@bp.route("/opportunities/new", methods=["GET", "POST"])
def new_opportunity():
    user, session = current_user(), db()
    customer_id = _int(request.values.get("customer_id"), "customer_id")
    if customer_id is None:
        abort(404)
    customer = get_visible_customer(session, user, customer_id)
    if request.method == "POST":
        state = _text("state") or "selling"
        opp = create_opportunity(session, user, customer.id, _text("title"), items=_form_items(),
                                 amount=_decimal("amount"), state=state,
                                 expected_close_on=_date("expected_close_on"),
                                 next_callback_at=_local_datetime("next_callback_at"),
                                 note=_text("note") or None, clock=clock())
        session.commit()
        flash(_("Opportunity saved."), "success")
        return redirect(url_for("sales.opportunity", opportunity_id=opp.id))
    return render_template("sales/new_opportunity.html", customer=customer,
                           products=active_products(session), states=OPPORTUNITY_STATES,
                           blank_rows=BLANK_ITEM_ROWS)


@bp.route("/opportunities/<int:opportunity_id>")
def opportunity(opportunity_id: int):
    user, session = current_user(), db()
    opp = get_opportunity(session, user, opportunity_id)
    customer = get_visible_customer(session, user, opp.customer_id)
    orders = orders_from_opportunity(session, opp.id)
    return render_template("sales/opportunity.html", opp=opp, customer=customer, orders=orders,
                           names=user_names(session, [opp.owner_id, user.id]),
                           users=assignable_users(session), states=OPPORTUNITY_STATES)


@bp.route("/opportunities/<int:opportunity_id>/state", methods=["POST"])
def opportunity_state(opportunity_id: int):
    set_opportunity_state(db(), current_user(), opportunity_id, _text("state"), clock=clock())
    db().commit()
    flash(_("State changed."), "success")
    return redirect(url_for("sales.opportunity", opportunity_id=opportunity_id))


@bp.route("/opportunities/<int:opportunity_id>/callback", methods=["POST"])
def opportunity_callback(opportunity_id: int):
    set_opportunity_callback(db(), current_user(), opportunity_id,
                             _local_datetime("next_callback_at"), clock=clock())
    db().commit()
    flash(_("Next callback saved."), "success")
    return redirect(url_for("sales.opportunity", opportunity_id=opportunity_id))


@bp.route("/opportunities/<int:opportunity_id>/order", methods=["POST"])
def opportunity_order(opportunity_id: int):
    """生成订单 from an opportunity: its items, the customer becomes closed."""
    user, session = current_user(), db()
    opp = get_opportunity(session, user, opportunity_id)
    order = create_order(session, user, opp.customer_id, [], opportunity_id=opp.id,
                         follower_id=_int(request.form.get("follower_id"), "follower_id"),
                         ordered_on=_date("ordered_on"), clock=clock())
    session.commit()
    flash(_("Order %(number)s created.", number=order.number), "success")
    return redirect(url_for("sales.order", order_id=order.id))


@bp.route("/opportunities/<int:opportunity_id>/quotation.pdf")
def quotation_pdf(opportunity_id: int):
    user, session = current_user(), db()
    opp = get_opportunity(session, user, opportunity_id)
    customer = get_visible_customer(session, user, opp.customer_id)
    body = render_pdf("pdf/quotation.html", opp=opp, customer=customer,
                      company=get_setting(session, "company.name"),
                      names=user_names(session, [opp.owner_id]), today=_today())
    return pdf_response(body, f"{_('Quotation')}-{opp.id}.pdf")


@bp.route("/opportunities/<int:opportunity_id>/sheet.pdf")
def opportunity_sheet_pdf(opportunity_id: int):
    user, session = current_user(), db()
    opp = get_opportunity(session, user, opportunity_id)
    customer = get_visible_customer(session, user, opp.customer_id)
    names = user_names(session, [opp.owner_id, *customer.operator_ids])
    body = render_pdf("pdf/opportunity_sheet.html", opp=opp, customer=customer,
                      company=get_setting(session, "company.name"), names=names,
                      operators=[names[i] for i in customer.operator_ids if i in names],
                      today=_today())
    return pdf_response(body, f"{_('Opportunity coordination sheet')}-{opp.id}.pdf")


# ---- orders ----------------------------------------------------------------------------------

@bp.route("/orders")
def orders():
    user, session = current_user(), db()
    args = _list_args("follow_up", order_variants_for(user) + ("all",), ORDER_SORTS)
    query = dict(sort=args["sort"], descending=None if args["dir"] is None else args["dir"] == "desc",
                 search=args["q"])
    fmt = _export_format()
    if fmt:
        result = list_orders(session, user, args["variant"], per_page=None, **query)
        headers = [_("Order number"), _("Customer"), _("Order date"), _("Amount"), _("State"),
                   _("Payment"), _("Shipping"), _("Seller"), _("Follower"), _("Next callback")]
        tz = company_tz(session)
        rows = [(r.order.number, r.customer_name, r.order.ordered_on, r.order.amount,
                 mark_label(r.order.state), mark_label(r.order.payment_status),
                 mark_label(r.order.shipping_status), r.seller_name, r.follower_name,
                 _local(r.order.next_callback_at, tz)) for r in result.rows]
        return export_response(headers, rows, _("Orders"), fmt)
    result = list_orders(session, user, args["variant"], page=args["page"],
                         per_page=page_size(PER_PAGE),
                         **query)
    return render_template("sales/orders.html", page=result, args=args,
                           variants=order_variants_for(user), counts=order_counts(session, user),
                           sorts=ORDER_SORTS)


@bp.route("/orders/new", methods=["GET", "POST"])
def new_order():
    user, session = current_user(), db()
    customer_id = _int(request.values.get("customer_id"), "customer_id")
    if customer_id is None:
        abort(404)
    customer = get_visible_customer(session, user, customer_id)
    if request.method == "POST":
        order = create_order(session, user, customer.id, _form_items(),
                             seller_id=_int(request.form.get("seller_id"), "seller_id"),
                             follower_id=_int(request.form.get("follower_id"), "follower_id"),
                             ordered_on=_date("ordered_on"),
                             next_callback_at=_local_datetime("next_callback_at"),
                             note=_text("note") or None, clock=clock())
        session.commit()
        flash(_("Order %(number)s created.", number=order.number), "success")
        return redirect(url_for("sales.order", order_id=order.id))
    return render_template("sales/new_order.html", customer=customer,
                           products=active_products(session), users=assignable_users(session),
                           blank_rows=BLANK_ITEM_ROWS)


@bp.route("/orders/<int:order_id>")
def order(order_id: int):
    user, session = current_user(), db()
    row = get_order(session, user, order_id)
    customer = get_visible_customer(session, user, row.customer_id)
    return render_template("sales/order.html", order=row, customer=customer,
                           follow_ups=order_follow_ups(session, row.id),
                           names=user_names(session, [row.seller_id, row.follower_id]),
                           may_update=may_update_order(user, row), states=ORDER_STATES,
                           payment_statuses=PAYMENT_STATUSES,
                           shipping_statuses=SHIPPING_STATUSES)


@bp.route("/orders/<int:order_id>/status", methods=["POST"])
def order_status(order_id: int):
    update_order_status(db(), current_user(), order_id,
                        payment_status=_text("payment_status") or None, paid_on=_date("paid_on"),
                        shipping_status=_text("shipping_status") or None,
                        shipped_on=_date("shipped_on"), state=_text("state") or None,
                        clock=clock())
    db().commit()
    flash(_("Order status saved."), "success")
    return redirect(url_for("sales.order", order_id=order_id))


@bp.route("/orders/<int:order_id>/follow-ups", methods=["POST"])
def order_follow_up(order_id: int):
    content = _text("content")
    if not content:
        raise InvalidValue(field=_("Follow-up"))
    add_order_follow_up(db(), current_user(), order_id, content,
                        next_callback_at=_local_datetime("next_callback_at"),
                        remind=bool(request.form.get("remind")), clock=clock())
    db().commit()
    flash(_("Follow-up saved."), "success")
    return redirect(url_for("sales.order", order_id=order_id))


@bp.route("/orders/<int:order_id>/sheet.pdf")
def order_sheet_pdf(order_id: int):
    user, session = current_user(), db()
    row = get_order(session, user, order_id)
    customer = get_visible_customer(session, user, row.customer_id)
    body = render_pdf("pdf/order_sheet.html", order=row, customer=customer,
                      follow_ups=order_follow_ups(session, row.id)[:10],
                      company=get_setting(session, "company.name"),
                      names=user_names(session, [row.seller_id, row.follower_id]),
                      today=_today())
    return pdf_response(body, f"{_('Order coordination sheet')}-{row.number}.pdf")


@bp.route("/customers/<int:customer_id>/tracking-sheet.pdf")
def tracking_sheet_pdf(customer_id: int):
    session = db()
    sheet = tracking_sheet(session, current_user(), customer_id)
    body = render_pdf("pdf/tracking_sheet.html", sheet=sheet, customer=sheet.customer,
                      company=get_setting(session, "company.name"), today=_today())
    return pdf_response(body, f"{_('Tracking coordination sheet')}-{customer_id}.pdf")


def _today() -> dt.date:
    return clock().now().astimezone(company_tz(db())).date()
