"""The agent's dialer widget: log in to the inbound queues (the ``queues`` setting) and/or join
a campaign of one's team (blended: one state for both), go ready, pause with a pause code,
pick a disposition to leave wrap-up (models.dialer.agent_states). In a preview campaign the ready
agent takes the next customer, reads the card, then dials or skips (models.dialer.preview). The panel
follows the agent's state over server-sent events (the dialer moves the agent to on_call and
wrap_up)."""
from __future__ import annotations

import json
import time

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select

from models.crm.visibility import can_open
from models.dialer.agent_states import (
    CLOSED_CAMPAIGN,
    INBOUND,
    current,
    my_campaign_ids,
    open_attempt_of,
    set_queues,
    set_state,
)
from models.dialer.campaign_stats import why_idle
from models.dialer.pause_codes import active_codes
from models.dialer.preview import preview_card, preview_next, request_dial, skip
from models.dialer.queue_logins import queues_of
from models.dialer.wrap_up import finish_wrap_up
from models.errors import DomainError, NotFound
from models.schema import Campaign, Customer
from models.telephony.dispositions import active_dispositions

from ..context import clock, current_user, db
from ..forms import method_label, parse_local_datetime
from ..calls.wrap_up import after_wrap_up
from ..popups.views import local_iso, track_link
from . import bp


def _int(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 12 else None


def panel_context(session, user) -> dict:
    me = current(session, user.id)
    ids = my_campaign_ids(session, user)
    joinable = session.scalars(select(Campaign).where(
        Campaign.id.in_(ids), Campaign.status.not_in(CLOSED_CAMPAIGN))
        .order_by(Campaign.id.desc())).all() if ids else []
    campaign = session.get(Campaign, me.campaign_id) if me.campaign_id else None
    call = card = None
    preview = campaign is not None and campaign.mode == "preview"
    attempt = open_attempt_of(session, user.id)
    if attempt is not None and preview:
        card = preview_card(session, user, attempt)
    elif attempt is not None:
        customer = session.get(Customer, attempt.customer_id) if attempt.customer_id else None
        call = dict(number=attempt.number, customer=customer,
                    visible=customer is not None and can_open(user, customer))
    idle = why_idle(session, campaign.id, clock=clock()) \
        if campaign is not None and me.state == "ready" else None
    return dict(me=me, joinable=joinable, campaign=campaign, call=call, preview=preview,
                idle=idle, idle_key=_idle_key(idle),
                card=card, steps=preview_steps(), reasons=[p.code for p in active_codes(session)],
                queues=_queue_names(), my_queues=queues_of(session, user.id), inbound=INBOUND,
                dispositions=active_dispositions(session) if me.state == "wrap_up" else [],
                local_iso=local_iso, track_link=track_link,
                method_label=method_label,
                seconds=int((clock().now() - me.since).total_seconds()) if me.since else None)


def _queue_names() -> list[str]:
    return current_app.config["DIALFUNNEL_SETTINGS"].queue_names


def _idle_key(idle: dict | None) -> str:
    """Changes when the reason the agent waits changes (the panel is drawn again)."""
    if not idle:
        return ""
    return idle["reason"] + ("@" + idle["at"].isoformat() if idle.get("at") else "")


def preview_steps() -> dict:
    """Labels of a preview call's steps (the agent's on_call reasons)."""
    return {"preview": _("Previewing"), "dial": _("Waiting for the dialer…"),
            "dialling": _("Dialling…")}


@bp.route("/dialer")
def dialer():
    session, user = db(), current_user()
    context = panel_context(session, user)
    session.commit()
    return render_template("campaigns/dialer.html", **context)


@bp.route("/dialer/panel")
def dialer_panel():
    session, user = db(), current_user()
    context = panel_context(session, user)
    session.commit()
    return render_template("campaigns/_dialer_panel.html", **context)


@bp.route("/dialer/state", methods=["POST"])
def dialer_state():
    form = request.form
    session, user = db(), current_user()
    me = current(session, user.id)
    if me.state != "wrap_up" or me.reason == INBOUND:   # a queue call is wrapped up on its own page
        set_state(session, user, form.get("state", ""), campaign_id=_int(form.get("campaign_id")),
                  reason=form.get("reason") or None, clock=clock())
        session.commit()
        return redirect(url_for("campaigns.dialer"))
    done = finish_wrap_up(
        session, user, form.get("state", ""), disposition=form.get("disposition") or None,
        note=form.get("note", ""), reason=form.get("reason") or None,
        callback_at=parse_local_datetime(form.get("callback_date"), form.get("callback_time"),
                                         "next_callback_at"),
        clock=clock())
    session.commit()
    if done is not None:
        return after_wrap_up(done, url_for("campaigns.dialer"))
    return redirect(url_for("campaigns.dialer"))


@bp.route("/dialer/queues", methods=["POST"])
def dialer_queues():
    """Log in to exactly the ticked inbound queues (none ticked: out of every queue)."""
    session, user = db(), current_user()
    set_queues(session, user, request.form.getlist("queue"), allowed=_queue_names(), clock=clock())
    session.commit()
    return redirect(url_for("campaigns.dialer"))


@bp.route("/dialer/next", methods=["POST"])
def dialer_next():
    session, user = db(), current_user()
    me = current(session, user.id)
    if me.campaign_id is None:
        raise DomainError("preview.not_ready")
    attempt = preview_next(session, user, me.campaign_id, clock=clock())
    session.commit()
    if attempt is None:
        flash(_("No customer is due now. Try again in a moment."), "info")
    return redirect(url_for("campaigns.dialer"))


def _attempt_id() -> int:
    attempt_id = _int(request.form.get("attempt_id"))
    if attempt_id is None:
        raise NotFound("dial.attempt_not_found")
    return attempt_id


@bp.route("/dialer/dial", methods=["POST"])
def dialer_dial():
    request_dial(db(), current_user(), _attempt_id(), clock=clock())
    db().commit()
    return redirect(url_for("campaigns.dialer"))


@bp.route("/dialer/skip", methods=["POST"])
def dialer_skip():
    skip(db(), current_user(), _attempt_id(), clock=clock())
    db().commit()
    return redirect(url_for("campaigns.dialer"))


@bp.route("/dialer/stream")
def dialer_stream():
    """The agent's own state, sent when it changes; 204 (EventSource stops) when logged out."""
    user_id = current_user().id
    maker = current_app.extensions["dialfunnel.sessionmaker"]
    limit = current_app.config.get("SSE_MAX_SECONDS", 300)
    poll = current_app.config.get("SSE_POLL_SECONDS", 1.0)
    keepalive = current_app.config.get("SSE_KEEPALIVE_SECONDS", 15.0)
    first = current(db(), user_id)
    db().commit()
    if first.state == "logged_out":
        return Response(status=204)
    app_clock = clock()

    def generate():
        started = idle = time.monotonic()
        last = None
        yield "retry: 2000\n\n"
        while time.monotonic() - started < limit:
            with maker() as s:
                me = current(s, user_id)
                why = why_idle(s, me.campaign_id, clock=app_clock) \
                    if me.state == "ready" and me.campaign_id else None
                s.commit()
            key = [me.state, me.campaign_id, me.reason, me.attempt_id, _idle_key(why)]
            if key != last:
                last, idle = key, time.monotonic()
                yield f"event: state\ndata: {json.dumps(dict(zip(('state', 'campaign_id', 'reason', 'attempt_id', 'idle'), key)))}\n\n"
                if me.state == "logged_out":
                    return
            elif time.monotonic() - idle > keepalive:
                idle = time.monotonic()
                yield ": keep-alive\n\n"
            time.sleep(poll)

    return Response(stream_with_context(generate()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
