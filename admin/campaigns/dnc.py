"""The do-not-call list (models.dialer.dnc): managers and admins list, add, remove and upload numbers."""
from __future__ import annotations

import csv
import hashlib
import hmac
import io

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from models.dialer import dnc
from models.schema import DoNotCall, User

from ..context import clock, current_user, db
from ..forms import local_dt
from ..masking import phone
from ..paging import pages_of
from . import bp
from .common import manager_only

MAX_SEARCH = 40


@bp.route("/campaigns/dnc")
def dnc_list():
    manager_only()
    session = db()
    q = request.args.get("q", "").strip()[:MAX_SEARCH]
    stmt = select(DoNotCall, User.full_name).outerjoin(User, User.id == DoNotCall.added_by_id)
    digits = "".join(ch for ch in q if ch.isdigit())
    if digits:
        stmt = stmt.where(DoNotCall.number.contains(digits, autoescape=True))
    page = pages_of(session.scalar(select(func.count()).select_from(stmt.subquery())))
    rows = session.execute(stmt.order_by(DoNotCall.added_at.desc(), DoNotCall.number)
                           .limit(page.per_page).offset(page.offset)).all()
    session.commit()
    return render_template("campaigns/dnc.html", rows=rows, total=page.total, page=page, q=q,
                           local_dt=local_dt, row_key=row_key)


@bp.route("/campaigns/dnc/add", methods=["POST"])
def dnc_add():
    manager_only()
    row = dnc.add_number(db(), current_user(), request.form.get("number", ""),
                         reason=request.form.get("reason"), clock=clock())
    db().commit()
    flash(_("%(number)s is on the do-not-call list.", number=row.number), "success")
    return redirect(url_for("campaigns.dnc_list"))


def row_key(number: str) -> str:
    """The list's remove button names its row by this keyed hash, so a masking role (who never
    gets the number) can remove it too; the last four digits let the route find it cheaply."""
    mac = hmac.new(current_app.secret_key.encode(), number.encode(), hashlib.sha256)
    return f"{number[-4:]}.{mac.hexdigest()[:32]}"


def _number_of_key(key: str) -> str | None:
    tail, _sep, _mac = key.partition(".")
    if not (len(tail) == 4 and tail.isdigit()):
        return None
    for number in db().scalars(select(DoNotCall.number).where(DoNotCall.number.endswith(tail))):
        if hmac.compare_digest(row_key(number), key):
            return number
    return None


@bp.route("/campaigns/dnc/remove", methods=["POST"])
def dnc_remove():
    manager_only()
    number = _number_of_key(request.form.get("key", "")) or request.form.get("number", "")
    removed = dnc.remove_number(db(), current_user(), number)
    db().commit()
    flash(_("%(number)s was removed from the do-not-call list.", number=phone(number)) if removed
          else _("%(number)s was not on the list.", number=phone(number)), "success" if removed else "info")
    return redirect(url_for("campaigns.dnc_list"))


def numbers_of(data: bytes) -> list[str]:
    """The first non-empty cell of each line of a text or CSV file (UTF-8 or GBK)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gb18030", errors="replace")
    out = []
    for row in csv.reader(io.StringIO(text)):
        cell = next((c.strip() for c in row if c.strip()), "")
        if cell:
            out.append(cell)
    return out


@bp.route("/campaigns/dnc/upload", methods=["POST"])
def dnc_upload():
    manager_only()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a file."), "warning")
        return redirect(url_for("campaigns.dnc_list"))
    lines = numbers_of(upload.read())
    result = dnc.import_numbers(db(), current_user(), lines, reason=request.form.get("reason"),
                                clock=clock())
    db().commit()
    flash(_("%(added)s numbers added, %(listed)s already listed, %(invalid)s not valid.",
            added=result.added, listed=result.already_listed, invalid=len(result.invalid)),
          "success")
    if result.invalid:
        flash(_("Not valid: %(numbers)s", numbers=", ".join(result.invalid[:20])), "warning")
    return redirect(url_for("campaigns.dnc_list"))
