"""Orders (订单, C7): the lists with their export, a new order, its page, its payment and
shipping status, and its follow-ups."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.company import company_tz
from models.crm.sales import add_order_follow_up, create_order, update_order_status
from models.crm.sales_lists import (
    ORDER_SORTS,
    active_products,
    assignable_users,
    get_order,
    list_orders,
    may_update_order,
    order_counts,
    order_follow_ups,
    order_variants_for,
    user_names,
)
from models.crm.visibility import get_visible_customer
from models.errors import InvalidValue
from models.schema.sales import ORDER_STATES, PAYMENT_STATUSES, SHIPPING_STATUSES

from ..context import clock, current_user, db
from ..labels import mark_label
from ..paging import page_size
from ..spreadsheet import export_response
from . import bp
from .shared import (
    BLANK_ITEM_ROWS,
    PER_PAGE,
    customer_of_request,
    export_format,
    form_date,
    form_int,
    form_items,
    form_local_datetime,
    form_text,
    list_args,
    naive_local,
)


@bp.route("/orders")
def orders():
    user, session = current_user(), db()
    args = list_args("follow_up", order_variants_for(user) + ("all",), ORDER_SORTS)
    query = dict(sort=args["sort"], descending=None if args["dir"] is None else args["dir"] == "desc",
                 search=args["q"])
    fmt = export_format()
    if fmt:
        result = list_orders(session, user, args["variant"], per_page=None, **query)
        headers = [_("Order number"), _("Customer"), _("Order date"), _("Amount"), _("State"),
                   _("Payment"), _("Shipping"), _("Seller"), _("Follower"), _("Next callback")]
        tz = company_tz(session)
        rows = [(r.order.number, r.customer_name, r.order.ordered_on, r.order.amount,
                 mark_label(r.order.state), mark_label(r.order.payment_status),
                 mark_label(r.order.shipping_status), r.seller_name, r.follower_name,
                 naive_local(r.order.next_callback_at, tz)) for r in result.rows]
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
    customer = customer_of_request(session, user)
    if request.method == "POST":
        order = create_order(session, user, customer.id, form_items(),
                             seller_id=form_int(request.form.get("seller_id"), "seller_id"),
                             follower_id=form_int(request.form.get("follower_id"), "follower_id"),
                             ordered_on=form_date("ordered_on"),
                             next_callback_at=form_local_datetime("next_callback_at"),
                             note=form_text("note") or None, clock=clock())
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
                        payment_status=form_text("payment_status") or None, paid_on=form_date("paid_on"),
                        shipping_status=form_text("shipping_status") or None,
                        shipped_on=form_date("shipped_on"), state=form_text("state") or None,
                        clock=clock())
    db().commit()
    flash(_("Order status saved."), "success")
    return redirect(url_for("sales.order", order_id=order_id))


@bp.route("/orders/<int:order_id>/follow-ups", methods=["POST"])
def order_follow_up(order_id: int):
    content = form_text("content")
    if not content:
        raise InvalidValue(field=_("Follow-up"))
    add_order_follow_up(db(), current_user(), order_id, content,
                        next_callback_at=form_local_datetime("next_callback_at"),
                        remind=bool(request.form.get("remind")), clock=clock())
    db().commit()
    flash(_("Follow-up saved."), "success")
    return redirect(url_for("sales.order", order_id=order_id))
