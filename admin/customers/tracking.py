"""The tracking screen (正在跟踪, C6): work one customer — log a contact, create an
opportunity or order, move it — then Next (下一个) to the following customer of the same list."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.crm.contact_records import add_contact_record
from models.crm.contacts import contact_of
from models.crm.lists import (
    ListSpec,
    customer_sections,
    index_in_list,
    next_in_list,
    position_of,
    side_panel,
    user_names,
)
from models.crm.sales import create_opportunity, create_order
from models.crm.visibility import get_visible_customer
from models.schema.sales import OPPORTUNITY_STATES
from models.telephony.call_history import customer_calls

from ..context import back, clock, current_user, db
from ..forms import parse_date, parse_decimal, parse_int, parse_local_datetime, tz
from . import bp
from .detail import customer_view, visible
from .forms import parse_lines
from .lists import list_url, track_url


def _spec() -> ListSpec | None:
    """The list the screen was opened from (query arguments `list`, `tab`, `sort`...)."""
    stage = request.args.get("list")
    return ListSpec.parse(current_user(), stage, request.args) if stage else None


@bp.route("/customers/<int:customer_id>/track")
def track(customer_id):
    session, user = db(), current_user()
    customer = get_visible_customer(session, user, customer_id)
    spec = _spec()
    at = request.args.get("at")
    place = index_in_list(session, user, spec, customer_id, at, clock=clock()) if spec else None
    sections = customer_sections(session, user, customer_id)
    names = user_names(session, {r.user_id for r in sections["records"]}
                       | {d.uploaded_by_id for d in sections["documents"]})
    selling = [o for o in sections["opportunities"] if o.state != "ended"]
    next_url = None
    if spec:
        next_url = url_for("customers.next_customer", customer_id=customer_id, **spec.args(),
                           **({} if at is None else {"at": at}))
    return render_template(
        "customers/track.html", c=customer, s=sections, names=names, spec=spec,
        calls=customer_calls(session, user, customer_id),
        place=place, back_url=list_url(spec) if spec else None, next_url=next_url,
        company_tz_name=str(tz()),
        panel=side_panel(session, user, customer.stage), selling=selling,
        opportunity_states=OPPORTUNITY_STATES, **customer_view(customer))


@bp.route("/customers/<int:customer_id>/next")
def next_customer(customer_id):
    """Next (下一个): the customer after this one in the list it was opened from."""
    session, user = db(), current_user()
    spec = _spec()
    if spec is None:
        return redirect(url_for("customers.track", customer_id=customer_id))
    following = next_in_list(session, user, spec, customer_id, request.args.get("at"),
                             clock=clock())
    if following is None:
        flash(_("This was the last customer of the list."), "info")
        current = get_visible_customer(session, user, customer_id)
        return redirect(url_for("customers.track", customer_id=current.id,
                                at=request.args.get("at", position_of(current, spec)),
                                **spec.args()))
    return redirect(track_url(following, spec))


@bp.route("/customers/<int:customer_id>/records", methods=["POST"])
def add_record(customer_id):
    """A new contact record; the callback is typed in the company's time zone."""
    visible(customer_id)
    form = request.form
    callback = parse_local_datetime(form.get("callback_date"), form.get("callback_time"),
                                    "next_callback_at")
    contact = None
    if form.get("contact_id"):
        contact = contact_of(db(), customer_id, parse_int(form.get("contact_id"), "contact"))
    add_contact_record(db(), current_user(), customer_id, content=form.get("content", "").strip(),
                       method=form.get("method", "phone"),
                       progress=form.get("progress", "").strip()[:200] or None,
                       next_callback_at=callback, remind=form.get("remind") == "1",
                       contact_id=contact.id if contact else None, clock=clock())
    db().commit()
    flash(_("Contact record added."), "success")
    return back()


@bp.route("/customers/<int:customer_id>/opportunities", methods=["POST"])
def add_opportunity(customer_id):
    visible(customer_id)
    form = request.form
    opp = create_opportunity(
        db(), current_user(), customer_id, form.get("title", ""), items=parse_lines(form),
        amount=parse_decimal(form.get("amount"), "amount"), state=form.get("state", "selling"),
        expected_close_on=parse_date(form.get("expected_close_on"), "expected_close_on"),
        note=form.get("note", "").strip() or None, clock=clock())
    db().commit()
    flash(_("Opportunity %(title)s created.", title=opp.title), "success")
    return back()


@bp.route("/customers/<int:customer_id>/orders", methods=["POST"])
def add_order(customer_id):
    visible(customer_id)
    form = request.form
    opportunity_id = form.get("opportunity_id")
    order = create_order(
        db(), current_user(), customer_id, parse_lines(form),
        opportunity_id=parse_int(opportunity_id, "opportunity") if opportunity_id else None,
        note=form.get("note", "").strip() or None, clock=clock())
    db().commit()
    flash(_("Order %(number)s created.", number=order.number), "success")
    return back()
