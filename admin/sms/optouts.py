"""The numbers opted out of SMS (退订) for managers: listed with why and when, added by hand
(a customer who asked on the phone), and put back when one was opted out by mistake."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.errors import DomainError
from models.sms import optouts as rules

from ..context import clock, current_user, db, lang
from ..forms import local_dt
from . import bp


def _manager() -> None:
    if not current_user().role.can_manage:
        abort(403)


@bp.route("/opt-outs")
def opt_outs():
    _manager()
    return render_template("sms/opt_outs.html", rows=rules.list_opt_outs(db()), local_dt=local_dt)


@bp.route("/opt-outs/add", methods=["POST"])
def opt_out_add():
    _manager()
    try:
        rules.opt_out(db(), request.form.get("number", ""), actor=current_user(),
                      reason=request.form.get("reason") or _("Added by hand"), clock=clock())
        db().commit()
        flash(_("Saved."), "success")
    except DomainError as exc:
        db().rollback()
        flash(exc.message(lang()), "danger")
    return redirect(url_for("sms.opt_outs"))


@bp.route("/opt-outs/remove", methods=["POST"])
def opt_out_remove():
    _manager()
    try:
        removed = rules.opt_in(db(), current_user(), request.form.get("number", ""))
        db().commit()
        flash(_("The number may receive SMS again.") if removed else _("Not opted out."),
              "success" if removed else "warning")
    except DomainError as exc:
        db().rollback()
        flash(exc.message(lang()), "danger")
    return redirect(url_for("sms.opt_outs"))
