"""Click-to-call in the browser (issue 13): POST /calls/dial queues a call
(models.dialer.click_to_call), GET /calls/dial/<id> is its live state, POST
/calls/dial/<id>/hangup hangs it up. The page names which number (``customer_id`` + ``target``),
never the number. Every answer is JSON; a refusal is {error, message} (models' refusal keys)."""
from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.errors import DomainError
from models.messages import render
from models.dialer import click_to_call as c2c

from ..context import clock, current_user, db, lang, refusal_text, requires
from . import bp


def state_label(state: str) -> str:
    return {"queued": _("Placing the call…"), "dialing": _("Placing the call…"),
            "ringing_agent": _("Your phone is ringing: pick it up"),
            "ringing_customer": _("Calling the customer…"), "talking": _("Talking"),
            "ended": _("Call ended"), "failed": _("Call failed")}.get(state, state)


def _answer(status: dict):
    status["label"] = state_label(status["state"])
    status["message"] = render(status["reason"], lang()) if status["reason"] else ""
    status["wrap_up_url"] = f"/calls/{status['call_id']}/wrap-up" \
        if status["state"] == "ended" and status["call_id"] else None   # calls.wrap_up
    return jsonify(status)


def _customer_id() -> int | None:
    raw = (request.form.get("customer_id") or "").strip()
    if raw and not raw.isdigit():
        raise DomainError("click_to_call.bad_target")
    return int(raw) if raw else None


@bp.route("/calls/dial", methods=["POST"])
def dial():
    user = current_user()
    call = c2c.request_call(db(), user, _customer_id(), request.form.get("target") or "",
                            clock=clock())
    status = c2c.status(db(), user, call.id)
    db().commit()
    return _answer(status)


@bp.route("/calls/dial/<int:request_id>")
def dial_status(request_id: int):
    status = c2c.status(db(), current_user(), request_id)
    db().commit()
    return _answer(status)


@bp.route("/calls/dial/<int:request_id>/hangup", methods=["POST"])
def dial_hangup(request_id: int):
    c2c.request_hangup(db(), current_user(), request_id)
    status = c2c.status(db(), current_user(), request_id)
    db().commit()
    return _answer(status)


@bp.route("/calls/settings", methods=["GET", "POST"])
@requires("is_admin")
def settings():
    values, error, status = c2c.manual_hours(db()), None, 200
    if request.method == "POST":
        try:
            c2c.set_manual_hours(db(), only=request.form.get("only") == "1",
                                 start=request.form.get("start") or "", end=request.form.get("end") or "")
            db().commit()
            flash(_("Saved."), "success")
            return redirect(url_for("calls.settings"))
        except DomainError as exc:
            db().rollback()
            error, status = refusal_text(exc), 400
            values = dict(only=request.form.get("only") == "1", start=request.form.get("start") or "",
                          end=request.form.get("end") or "")
    db().commit()
    return render_template("calls/settings.html", values=values, error=error), status
