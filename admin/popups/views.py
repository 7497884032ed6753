"""Screen pops in the agent's browser (T3).

The AMI listener (agi/ami/listener.py) writes a ``screen_pop`` event for the agent whose phone rings;
admin/events/ streams it; static/pops.js receives it and loads

GET  /pops/<event_id>            the pop panel for the current user: an HTML fragment when
                                 asked by pops.js (``X-Requested-With: fetch``), a full page
                                 otherwise (no JavaScript, or opened later)
POST /pops/<event_id>/customer   quick-create the unknown caller as my personal customer, then
                                 open its tracking screen at "new contact record"

A pop belongs to its agent only (anybody else gets 404). The panel is built afresh from the
caller's number (models.telephony.popups.refresh_pop) so it applies the visibility rules as they are now;
the call data (number, queue, direction, time of the ring) and a campaign call's campaign come
from the event. Its title says which way the call goes: "来电" (incoming) or "去电" (an
outbound call, e.g. the dialer's, with the campaign's name).
"""
from __future__ import annotations

import datetime as dt

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.crm.customers import create_customer
from models.errors import DomainError
from models.org.masking import kept
from models.schema import STAGES
from models.telephony.popups import pop_event_for, refresh_pop

from ..context import clock, current_user, db, refusal_text
from ..forms import guarded, link_to, method_label, tz
from ..recordings.views import direction_label, duration_text
from . import bp


QUICK_STAGES = ("target", "potential", "reserve", "opportunity", "closed")


def local_iso(text: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO datetime of the payload shown in the company's time zone."""
    if not text:
        return ""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(tz()).strftime(fmt)


def track_link(customer_id: int) -> str | None:
    return link_to("customers.track", customer_id=customer_id) or \
        link_to("customers.detail", customer_id=customer_id)


def pop_title(call: dict) -> str:
    """来电 or 去电: which way the call of a pop goes."""
    return _("Outbound call") if call.get("direction") == "outbound" else _("Incoming call")


def _panel(event, error: str | None = None, form: dict | None = None) -> dict:
    """The panel's data: the stored call, the customers as the rules show them now."""
    fresh = refresh_pop(db(), current_user(), event.payload or {}, clock=clock())
    db().commit()
    return dict(event=event, pop=fresh, call=fresh["call"], campaign=fresh.get("campaign"),
                heading=pop_title(fresh["call"]), error=error,
                form=form or fresh.get("quick_create") or {}, stages=QUICK_STAGES,
                local_iso=local_iso, track_link=track_link, method_label=method_label,
                duration_text=duration_text, direction_label=direction_label)


@bp.route("/pops/<int:event_id>")
def show(event_id):
    event = pop_event_for(db(), current_user(), event_id)
    ctx = _panel(event)
    if request.headers.get("X-Requested-With") == "fetch" or request.args.get("fragment"):
        return render_template("popups/_panel.html", **ctx)
    return render_template("popups/page.html", **ctx)


@bp.route("/pops/<int:event_id>/customer", methods=["POST"])
def quick_create(event_id):
    session, user = db(), current_user()
    event = guarded(pop_event_for, session, user, event_id)  # 404, not a flash, for others' pops
    form = request.form
    call = (event.payload or {}).get("call") or {}
    values = dict(name=form.get("name", "").strip(),
                  contact_person=form.get("contact_person", "").strip() or None,
                  phone=kept(user, call.get("number"), form.get("phone", "").strip())
                  or call.get("number") or None)
    stage = form.get("stage") if form.get("stage") in STAGES else "target"
    try:
        customer = create_customer(session, user, values, stage=stage, ownership="personal",
                                   operator_ids=[user.id], clock=clock())
        session.commit()
    except DomainError as exc:
        session.rollback()
        ctx = _panel(event, error=refusal_text(exc), form=dict(values, stage=stage))
        return render_template("popups/page.html", **ctx), 400
    flash(_("Customer %(name)s created.", name=customer.name), "success")
    target = track_link(customer.id)
    if target is None:
        return redirect(url_for("popups.show", event_id=event.id))
    return redirect(target + "#new-record")
