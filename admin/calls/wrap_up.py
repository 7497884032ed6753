"""The wrap-up (话后处理) of an answered call: GET /calls/wrap-ups lists the calls the user
answered that wait for one (the count is the badge in the top bar); GET/POST
/calls/<call_id>/wrap-up is the form (models.telephony.wrap_ups). A refused form is shown
again with what was typed."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.crm.visibility import can_open
from models.errors import DomainError, NotFound, PermissionDenied
from models.schema import STAGES, Customer
from models.schema.calls import Call
from models.telephony.dispositions import active_dispositions
from models.telephony.wrap_ups import (
    MAX_NOTE,
    WrapUpDone,
    call_to_wrap_up,
    outside_number,
    pending_count,
    pending_wrap_ups,
    wrap_up_call,
)

from ..context import clock, current_user, db, local_path, refusal_text
from ..forms import local_dt, parse_local_datetime
from ..labels import stage_label
from . import bp


@bp.app_template_global()
def pending_wrap_up_count() -> int:
    user = current_user()
    return pending_count(db(), user) if user is not None else 0


def flash_wrap_up(done: WrapUpDone) -> None:
    """What a wrap-up did, said to the agent (also after the dialer panel's wrap-up)."""
    if done.record is not None:
        flash(_("The call is logged on the customer's page."), "success")
    else:
        flash(_("The wrap-up is saved."), "success")
    if done.claim_refused is not None:
        flash(_("The customer was not claimed: %(why)s",
                why=refusal_text(done.claim_refused)), "warning")
    elif done.claimed:
        flash(_("The customer is now yours."), "success")
    if done.stage_made:
        flash(_("The customer is now at the stage %(stage)s.",
                stage=stage_label(done.stage_made)), "success")
    if done.stage_refused is not None:
        flash(_("The stage was not changed: %(why)s",
                why=refusal_text(done.stage_refused)), "warning")


@bp.route("/calls/wrap-ups")
def pending():
    session, user = db(), current_user()
    calls = pending_wrap_ups(session, user)
    ids = sorted({c.customer_id for c in calls if c.customer_id})
    names = dict(session.query(Customer.id, Customer.name).filter(Customer.id.in_(ids)).all()) \
        if ids else {}
    session.commit()
    return render_template("calls/wrap_ups.html", calls=calls, names=names, local_dt=local_dt,
                           outside_number=outside_number)


def after_wrap_up(done: WrapUpDone, next_url: str):
    """Say what the wrap-up did; then the stage it suggests as one click (when the user may
    open the customer), else `next_url`."""
    flash_wrap_up(done)
    if done.suggestion is not None and done.customer_id is not None:
        customer = db().get(Customer, done.customer_id)
        if customer is not None and can_open(current_user(), customer):
            action, stage = done.suggestion
            return redirect(url_for("calls.suggestion", customer_id=customer.id, action=action,
                                    stage=stage, next=next_url))
    return redirect(next_url)


@bp.route("/calls/<int:call_id>/wrap-up", methods=["GET", "POST"])
def wrap_up(call_id):
    session, user = db(), current_user()
    try:
        call = call_to_wrap_up(session, user, call_id)
    except (NotFound, PermissionDenied):
        raise
    except DomainError as exc:       # done already, or still in the dialer panel
        session.rollback()
        flash(refusal_text(exc), "warning")
        return redirect(url_for("calls.pending"))
    customer = session.get(Customer, call.customer_id) if call.customer_id else None
    visible = customer is not None and can_open(user, customer)
    form = request.form if request.method == "POST" else {}
    error = None
    if request.method == "POST":
        try:
            callback_at = parse_local_datetime(form.get("callback_date"),
                                               form.get("callback_time"), "next_callback_at")
            done = wrap_up_call(session, user, call.id, form.get("disposition") or None,
                                form.get("note", ""), callback_at, clock=clock())
            session.commit()
        except (NotFound, PermissionDenied):
            raise
        except DomainError as exc:
            session.rollback()
            error = refusal_text(exc)
        else:
            return after_wrap_up(done, url_for("customers.detail", customer_id=customer.id)
                                 if visible else url_for("calls.pending"))
        call = session.get(Call, call_id)
    return render_template("calls/wrap_up.html", call=call, customer=customer if visible else None,
                           dispositions=active_dispositions(session), form=form, error=error,
                           max_note=MAX_NOTE, local_dt=local_dt,
                           number=outside_number(call)), (400 if error else 200)


@bp.route("/calls/suggestion/<int:customer_id>")
def suggestion(customer_id):
    """After a wrap-up whose disposition suggests a stage: the one-click form to make it."""
    session, user = db(), current_user()
    customer = session.get(Customer, customer_id)
    if customer is None or not can_open(user, customer):
        raise NotFound("customer.not_found")
    action, stage = request.args.get("action"), request.args.get("stage")
    next_url = local_path(request.args.get("next")) or \
        url_for("customers.detail", customer_id=customer_id)
    if action not in ("promote", "demote") or stage not in STAGES:
        return redirect(next_url)
    session.commit()
    return render_template("calls/suggestion.html", customer=customer, action=action,
                           stage=stage, next=next_url)
