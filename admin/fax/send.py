"""Sending a fax: the form (a customer's page or the inbox), the draft with its page previews
where the user places a stamp or signature (签章), then the queue (agi/dialer/fax_sender.py)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from faxdocs import convert
from models.crm.visibility import get_visible_customer
from models.errors import InvalidValue
from models.fax import outbox
from models.library.documents import list_company_documents
from models.schema import Opportunity, Order

from ..context import clock, current_user, db, refusal_text
from . import bp
from .files import MAX_STAMP, attempts, make_fax_tiff, source_bytes, store, wants



def _sheets(session, user, customer):
    """The printed sheets of the customer that may be faxed: (value, label)."""
    if customer is None:
        return []
    out = []
    for opp in session.scalars(select(Opportunity).where(Opportunity.customer_id == customer.id)
                               .order_by(Opportunity.id.desc()).limit(20)):
        out.append((f"quotation:{opp.id}", _("Quotation") + f" · {opp.title}"))
        out.append((f"opportunity:{opp.id}", _("Opportunity coordination sheet") + f" · {opp.title}"))
    for order in session.scalars(select(Order).where(Order.customer_id == customer.id)
                                 .order_by(Order.id.desc()).limit(20)):
        out.append((f"order:{order.id}", _("Order coordination sheet") + f" · {order.number}"))
    return out


@bp.route("/faxes/send", methods=["GET", "POST"])
def send():
    """GET: the form; POST: the document made into a fax draft. A refusal shows the form again
    with what was typed."""
    session, user = db(), current_user()
    form = request.form if request.method == "POST" else request.args
    customer_id = form.get("customer_id", "").strip()
    customer = get_visible_customer(session, user, int(customer_id)) if customer_id.isdigit() else None
    number = form.get("number") or (customer.fax or customer.phone or "" if customer else "")
    error = None
    if request.method == "POST":
        try:
            outbox.fax_number(number)
            data, title = source_bytes(request.form, request.files)
            subject = request.form.get("subject", "").strip()[:200] or title
            tiff_key, pdf_key = store().new_outgoing()
            pages = make_fax_tiff(data, store().path(tiff_key), with_cover=wants("cover"),
                                  to=customer.name if customer else "", number=number,
                                  subject=subject, note=request.form.get("note", "")[:2000])
            fax = outbox.queue_fax(session, user, number=number, tiff_key=tiff_key,
                                   pdf_key=pdf_key, pages=len(pages),
                                   customer_id=customer.id if customer else None,
                                   subject=subject, max_attempts=attempts(), draft=True,
                                   clock=clock())
            session.commit()
            return redirect(url_for("fax.prepare", fax_id=fax.id))
        except InvalidValue as exc:
            session.rollback()
            error = refusal_text(exc)
    return render_template("fax/send.html", customer=customer, number=number, form=form,
                           error=error, documents=list_company_documents(session),
                           sheets=_sheets(session, user, customer))


@bp.route("/faxes/<int:fax_id>/prepare")
def prepare(fax_id: int):
    fax = outbox.get_draft(db(), current_user(), fax_id)
    return render_template("fax/prepare.html", fax=fax, has_stamp=store().company_stamp.is_file())


@bp.route("/faxes/<int:fax_id>/stamp", methods=["POST"])
def stamp(fax_id: int):
    """签章: the picture placed where the user clicked on the page preview (x, y: fractions): a
    signature or stamp uploaded here, else the company stamp."""
    fax = outbox.get_draft(db(), current_user(), fax_id)
    upload = request.files.get("stamp")
    mark = upload.read(MAX_STAMP + 1) if upload and upload.filename else b""
    if not mark and store().company_stamp.is_file():
        mark = store().company_stamp.read_bytes()
    if not mark or len(mark) > MAX_STAMP:
        raise InvalidValue(field="stamp")
    try:
        page = int(request.form.get("page", "1")) - 1
        x, y = float(request.form["x"]), float(request.form["y"])
        width = float(request.form.get("width") or 0.2)
        tiff = store().path(fax.tiff_key)
        convert.stamp(tiff, mark, page=page, x=x, y=y, width=width)
        convert.tiff_to_pdf(tiff, store().path(fax.pdf_key))
    except (KeyError, ValueError, convert.ConversionError):
        raise InvalidValue(field="stamp") from None
    flash(_("Stamp placed."), "success")
    return redirect(url_for("fax.prepare", fax_id=fax.id, page=page + 1))


@bp.route("/faxes/<int:fax_id>/send", methods=["POST"])
def send_now(fax_id: int):
    fax = outbox.send_draft(db(), current_user(), fax_id, clock=clock())
    db().commit()
    flash(_("Fax queued to %(number)s.", number=fax.number), "success")
    return redirect(url_for("fax.view", fax_id=fax.id))
