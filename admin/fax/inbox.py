"""The fax inbox and outbox: the list, one fax (its PDF in the page), marking it read,
assigning (managers), forwarding to a colleague or a number, replying, cancelling."""
from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from faxdocs import convert
from models.fax import inbox as rules
from models.fax import outbox
from models.schema import Customer, User

from ..context import back, clock, current_user, db
from . import bp
from .files import attempts, file_response, make_fax_tiff, store

BOXES = ("in", "out", "shared")


def _names(session, faxes) -> tuple[dict, dict]:
    customer_ids = {f.customer_id for f in faxes if f.customer_id}
    user_ids = {f.user_id for f in faxes if f.user_id}
    customers = dict(session.execute(select(Customer.id, Customer.name)
                                     .where(Customer.id.in_(customer_ids))).all()) if customer_ids else {}
    users = dict(session.execute(select(User.id, User.full_name)
                                 .where(User.id.in_(user_ids))).all()) if user_ids else {}
    return customers, users


@bp.route("/faxes")
def inbox():
    box = request.args.get("box", "in")
    if box not in BOXES:
        abort(404)
    session, user = db(), current_user()
    faxes = rules.inbox(session, user, box=box)
    customers, users = _names(session, faxes)
    return render_template("fax/inbox.html", faxes=faxes, box=box, customers=customers,
                           users=users, unread=rules.unread_count(session, user))


def _colleagues(session):
    return list(session.scalars(select(User).where(User.active.is_(True)).order_by(User.full_name)))


@bp.route("/faxes/<int:fax_id>")
def view(fax_id: int):
    session, user = db(), current_user()
    fax = rules.mark_read(session, user, fax_id, clock=clock())
    session.commit()
    customers, users = _names(session, [fax])
    return render_template("fax/view.html", fax=fax, customers=customers, users=users,
                           colleagues=_colleagues(session))


@bp.route("/faxes/<int:fax_id>/fax.pdf")
def pdf(fax_id: int):
    fax = rules.get_fax(db(), current_user(), fax_id)
    if not fax.pdf_key:
        abort(404)
    return file_response(store().path(fax.pdf_key), "application/pdf")


@bp.route("/faxes/<int:fax_id>/page.png")
def page_png(fax_id: int):
    """Page ``n`` (from 1) as a picture: the preview a stamp is placed on."""
    page = request.args.get("n", 1, type=int)
    fax = rules.get_fax(db(), current_user(), fax_id)
    path = store().path(fax.tiff_key) if fax.tiff_key else None
    if path is None or not path.is_file():
        abort(404)
    try:
        png = convert.preview_png(path, page - 1)
    except convert.ConversionError:
        abort(404)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, no-store"})


@bp.route("/faxes/<int:fax_id>/assign", methods=["POST"])
def assign(fax_id: int):
    rules.assign(db(), current_user(), fax_id, request.form.get("user_id"), clock=clock())
    db().commit()
    flash(_("The fax is in the colleague's inbox."), "success")
    return back("fax.inbox")


@bp.route("/faxes/<int:fax_id>/forward", methods=["POST"])
def forward(fax_id: int):
    """转发: to a colleague's inbox (user_id) or to a fax number (number)."""
    session, user = db(), current_user()
    if request.form.get("user_id"):
        rules.forward_to_user(session, user, fax_id, request.form["user_id"],
                              note=request.form.get("note", ""), clock=clock())
        flash(_("The fax is in the colleague's inbox."), "success")
    else:
        fax = outbox.resend(session, user, fax_id, number=request.form.get("number"),
                            max_attempts=attempts(), clock=clock())
        flash(_("Fax queued to %(number)s.", number=fax.number), "success")
    session.commit()
    return back("fax.inbox")


@bp.route("/faxes/<int:fax_id>/reply", methods=["POST"])
def reply(fax_id: int):
    """回复: to the sender's number, a cover page with the reply, then the file chosen if any."""
    session, user = db(), current_user()
    source = rules.get_fax(session, user, fax_id)
    tiff_key, pdf_key = store().new_outgoing()
    upload = request.files.get("file")
    subject = "Re: " + (source.subject or _("your fax"))
    pages = make_fax_tiff(upload.read() if upload and upload.filename else None,
                          store().path(tiff_key), with_cover=True, to=source.station_id or "",
                          number=source.number or "", subject=subject,
                          note=request.form.get("note", "")[:2000])
    fax = outbox.queue_fax(session, user, number=source.number, tiff_key=tiff_key, pdf_key=pdf_key,
                           pages=len(pages), customer_id=source.customer_id, subject=subject,
                           max_attempts=attempts(), source_id=source.id, clock=clock())
    session.commit()
    flash(_("Fax queued to %(number)s.", number=fax.number), "success")
    return redirect(url_for("fax.view", fax_id=fax.id))


@bp.route("/faxes/<int:fax_id>/cancel", methods=["POST"])
def cancel(fax_id: int):
    outbox.cancel(db(), current_user(), fax_id, clock=clock())
    db().commit()
    flash(_("The fax will not be sent."), "success")
    return back("fax.inbox")
