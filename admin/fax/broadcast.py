"""群发: one fax to a list of numbers typed in, or to chosen customers (``customer_id`` in the
URL or the form, e.g. the ids of a finder query's result: their fax number, else their phone),
paced by the fax lines; its progress."""
from __future__ import annotations

import re

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from models.errors import InvalidValue
from models.fax import outbox
from models.fax.inbox import visible_filter
from models.library.documents import list_company_documents
from models.schema import Fax

from ..context import clock, current_user, db, refusal_text
from . import bp
from .files import attempts, make_fax_tiff, source_bytes, store, wants

BATCH_KEY = re.compile(r"b-[0-9a-f]{12}")


def targets(form) -> list[tuple[str | None, int | None]]:
    numbers = [(n, None) for n in re.split(r"[\s,;，；]+", form.get("numbers", "")) if n]
    customers = [(None, int(i)) for i in form.getlist("customer_id") if i.isdigit()]
    return numbers + customers


@bp.route("/faxes/broadcast", methods=["GET", "POST"])
def broadcast():
    session, user = db(), current_user()
    error = None
    if request.method == "POST":
        try:
            chosen = targets(request.form)
            if not chosen:
                raise InvalidValue(field="numbers")
            data, title = source_bytes(request.form, request.files)
            subject = request.form.get("subject", "").strip()[:200] or title
            tiff_key, pdf_key = store().new_outgoing()
            pages = make_fax_tiff(data, store().path(tiff_key), with_cover=wants("cover"), to="",
                                  number="", subject=subject, note=request.form.get("note", "")[:2000])
            key, queued, refused = outbox.queue_broadcast(
                session, user, targets=chosen, tiff_key=tiff_key, pdf_key=pdf_key,
                pages=len(pages), subject=subject, max_attempts=attempts(), clock=clock())
            session.commit()
            if refused:
                flash(_("Not fax numbers: %(numbers)s", numbers=", ".join(refused[:20])), "warning")
            return redirect(url_for("fax.progress", key=key))
        except InvalidValue as exc:
            session.rollback()
            error = refusal_text(exc)
    return render_template("fax/broadcast.html", error=error, form=request.form,
                           customer_ids=request.values.getlist("customer_id"),
                           documents=list_company_documents(session))


@bp.route("/faxes/broadcast/<key>")
def progress(key: str):
    if not BATCH_KEY.fullmatch(key):
        abort(404)
    faxes = list(db().scalars(select(Fax).where(Fax.broadcast == key, visible_filter(current_user()))
                              .order_by(Fax.id)))
    if not faxes:
        abort(404)
    counts = {}
    for fax in faxes:
        counts[fax.status] = counts.get(fax.status, 0) + 1
    return render_template("fax/progress.html", key=key, faxes=faxes, counts=counts)
