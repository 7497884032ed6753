"""The printable sheets (C7): an opportunity's quotation and coordination sheet, an order's
coordination sheet and a customer's tracking sheet, as PDF (pdf.py)."""
from __future__ import annotations

from flask_babel import gettext as _

from models.company import get_setting
from models.crm.sales_lists import get_opportunity, get_order, order_follow_ups, tracking_sheet, user_names
from models.crm.visibility import get_visible_customer

from ..context import current_user, db
from . import bp
from .pdf import pdf_response, render_pdf
from .shared import today


@bp.route("/opportunities/<int:opportunity_id>/quotation.pdf")
def quotation_pdf(opportunity_id: int):
    user, session = current_user(), db()
    opp = get_opportunity(session, user, opportunity_id)
    customer = get_visible_customer(session, user, opp.customer_id)
    body = render_pdf("pdf/quotation.html", opp=opp, customer=customer,
                      company=get_setting(session, "company.name"),
                      names=user_names(session, [opp.owner_id]), today=today())
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
                      today=today())
    return pdf_response(body, f"{_('Opportunity coordination sheet')}-{opp.id}.pdf")


@bp.route("/orders/<int:order_id>/sheet.pdf")
def order_sheet_pdf(order_id: int):
    user, session = current_user(), db()
    row = get_order(session, user, order_id)
    customer = get_visible_customer(session, user, row.customer_id)
    body = render_pdf("pdf/order_sheet.html", order=row, customer=customer,
                      follow_ups=order_follow_ups(session, row.id)[:10],
                      company=get_setting(session, "company.name"),
                      names=user_names(session, [row.seller_id, row.follower_id]),
                      today=today())
    return pdf_response(body, f"{_('Order coordination sheet')}-{row.number}.pdf")


@bp.route("/customers/<int:customer_id>/tracking-sheet.pdf")
def tracking_sheet_pdf(customer_id: int):
    session = db()
    sheet = tracking_sheet(session, current_user(), customer_id)
    body = render_pdf("pdf/tracking_sheet.html", sheet=sheet, customer=sheet.customer,
                      company=get_setting(session, "company.name"), today=today())
    return pdf_response(body, f"{_('Tracking coordination sheet')}-{customer_id}.pdf")
