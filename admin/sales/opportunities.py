"""Opportunities (商机, C7): the lists with their export, a new opportunity, its page, state,
next callback, and the order made from it."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.company import company_tz
from models.crm.sales import create_opportunity, create_order, set_opportunity_state
from models.crm.sales_lists import (
    OPPORTUNITY_SORTS,
    OPPORTUNITY_VARIANTS,
    active_products,
    assignable_users,
    get_opportunity,
    list_opportunities,
    opportunity_counts,
    orders_from_opportunity,
    set_opportunity_callback,
    user_names,
)
from models.crm.visibility import get_visible_customer
from models.schema.sales import OPPORTUNITY_STATES

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
    form_decimal,
    form_int,
    form_items,
    form_local_datetime,
    form_text,
    list_args,
    naive_local,
)


@bp.route("/opportunities")
def opportunities():
    user, session = current_user(), db()
    args = list_args("selling", OPPORTUNITY_VARIANTS, OPPORTUNITY_SORTS)
    query = dict(sort=args["sort"], descending=None if args["dir"] is None else args["dir"] == "desc",
                 search=args["q"])
    fmt = export_format()
    if fmt:
        result = list_opportunities(session, user, args["variant"], per_page=None, **query)
        headers = [_("Customer"), _("Opportunity title"), _("Amount"), _("State"), _("Expected close"),
                   _("Next callback"), _("Opportunity owner"), _("Created")]
        tz = company_tz(session)
        rows = [(r.customer_name, r.opportunity.title, r.opportunity.amount,
                 mark_label(r.opportunity.state), r.opportunity.expected_close_on,
                 naive_local(r.opportunity.next_callback_at, tz), r.owner_name,
                 naive_local(r.opportunity.created_at, tz)) for r in result.rows]
        return export_response(headers, rows, _("Opportunities"), fmt)
    result = list_opportunities(session, user, args["variant"], page=args["page"],
                                per_page=page_size(PER_PAGE), **query)
    return render_template("sales/opportunities.html", page=result, args=args,
                           variants=OPPORTUNITY_VARIANTS, counts=opportunity_counts(session, user),
                           sorts=OPPORTUNITY_SORTS)


@bp.route("/opportunities/new", methods=["GET", "POST"])
def new_opportunity():
    user, session = current_user(), db()
    customer = customer_of_request(session, user)
    if request.method == "POST":
        state = form_text("state") or "selling"
        opp = create_opportunity(session, user, customer.id, form_text("title"), items=form_items(),
                                 amount=form_decimal("amount"), state=state,
                                 expected_close_on=form_date("expected_close_on"),
                                 next_callback_at=form_local_datetime("next_callback_at"),
                                 note=form_text("note") or None, clock=clock())
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
    set_opportunity_state(db(), current_user(), opportunity_id, form_text("state"), clock=clock())
    db().commit()
    flash(_("State changed."), "success")
    return redirect(url_for("sales.opportunity", opportunity_id=opportunity_id))


@bp.route("/opportunities/<int:opportunity_id>/callback", methods=["POST"])
def opportunity_callback(opportunity_id: int):
    set_opportunity_callback(db(), current_user(), opportunity_id,
                             form_local_datetime("next_callback_at"), clock=clock())
    db().commit()
    flash(_("Next callback saved."), "success")
    return redirect(url_for("sales.opportunity", opportunity_id=opportunity_id))


@bp.route("/opportunities/<int:opportunity_id>/order", methods=["POST"])
def opportunity_order(opportunity_id: int):
    """生成订单 from an opportunity: its items, the customer becomes closed."""
    user, session = current_user(), db()
    opp = get_opportunity(session, user, opportunity_id)
    order = create_order(session, user, opp.customer_id, [], opportunity_id=opp.id,
                         follower_id=form_int(request.form.get("follower_id"), "follower_id"),
                         ordered_on=form_date("ordered_on"), clock=clock())
    session.commit()
    flash(_("Order %(number)s created.", number=order.number), "success")
    return redirect(url_for("sales.order", order_id=order.id))
