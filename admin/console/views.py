"""The call bar: what the agent's call is doing (JSON for call_bar.js, the same dict rendered
into every page by _call_bar.html) and the controls, queued through
models.telephony.call_commands (the dialer process runs them over AMI and reports back on the
event stream, kind ``call_bar``). Refusals come back as JSON {error, message}."""
from __future__ import annotations

from flask import jsonify, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from models.crm.visibility import can_open
from models.dialer.agent_states import current
from models.schema import Campaign, Customer, User
from models.telephony.call_commands import (ACTIONS, PARTY_KINDS, TARGET_KINDS, TRANSFER_QUEUES,
                                            allowed_actions, call_status, parties,
                                            request_command)

from ..calls.views import call_direction
from ..campaigns.common import pause_label, state_label
from ..context import clock, current_user, db
from ..masking import phone
from . import bp


def action_labels() -> dict[str, str]:
    return {"hangup": _("Hang up"), "hold": _("Hold"), "resume": _("Resume"),
            "mute": _("Mute"), "unmute": _("Unmute"), "blind_transfer": _("Transfer"),
            "attended_transfer": _("Consult"), "complete_transfer": _("Complete transfer"),
            "cancel_transfer": _("Cancel transfer"), "conference": _("Three-way"),
            "add_party": _("Add party"), "drop_party": _("Drop")}


def target_kind_labels() -> dict[str, str]:
    return {"extension": _("Extension"), "user": _("Colleague"), "queue": _("Queue"),
            "number": _("Outside number"), "manager": _("My manager")}


def party_label(party: dict) -> str:
    """A party of the call by who it is, never by its channel (which may hold a number)."""
    if party["me"]:
        return _("Me")
    if party["name"]:
        return party["name"]
    return _("Customer") if party["customer"] else _("Outside party")


def bar_state(session, user) -> dict:
    """The agent's state and current call as the bar shows them (numbers through the mask)."""
    me = current(session, user.id)
    campaign = session.get(Campaign, me.campaign_id) if me.campaign_id else None
    agent = dict(state=me.state, label=state_label(me.state),
                 reason=me.reason if me.state == "paused" else None,
                 reason_label=pause_label(me.reason) if me.state == "paused" else "",
                 campaign=campaign.name if campaign else None)
    status = call_status(session, user.id)
    if status is None:
        return dict(agent=agent, call=None, actions=[])
    call = status.call
    number = call.from_number if call.direction == "inbound" else call.to_number
    customer = session.get(Customer, call.customer_id) if call.customer_id else None
    call_campaign = session.get(Campaign, call.campaign_id) if call.campaign_id else None
    answered = call.answered_at or call.started_at
    return dict(agent=agent, actions=allowed_actions(status), call=dict(
        id=call.id, number=phone(number), direction=call.direction,
        direction_label=call_direction(call.direction),
        customer=dict(id=customer.id, name=customer.name,
                      url=url_for("customers.detail", customer_id=customer.id))
        if customer is not None and can_open(user, customer) else None,
        campaign=call_campaign.name if call_campaign else None,
        since=answered.isoformat(), seconds=max(0, int((clock().now() - answered).total_seconds())),
        held=status.held, muted=status.muted, consulting=status.consulting,
        in_room=status.in_room,
        parties=[dict(leg=p["leg"], label=party_label(p), me=p["me"])
                 for p in parties(session, status)],
        pending=status.pending.action if status.pending else None))


@bp.app_template_global()
def call_bar() -> dict | None:
    """For base.html: the bar of the logged-in user."""
    user = current_user()
    return bar_state(db(), user) if user is not None else None


@bp.app_template_global()
def call_bar_labels() -> dict:
    return dict(actions=action_labels(), kinds=target_kind_labels())


@bp.route("/call-bar")
def state():
    return jsonify(bar_state(db(), current_user()))


@bp.route("/call-bar/targets")
def targets():
    """The transfer picker's lists: colleagues with a phone (not oneself) and the queues."""
    me = current_user()
    rows = db().scalars(select(User).where(User.active.is_(True), User.extension.is_not(None),
                                           User.id != me.id).order_by(User.extension)).all()
    return jsonify(colleagues=[dict(id=u.id, name=u.full_name, extension=u.extension) for u in rows],
                   queues=list(TRANSFER_QUEUES), kinds=list(TARGET_KINDS),
                   party_kinds=list(PARTY_KINDS))


@bp.route("/call-bar/<action>", methods=["POST"])
def control(action: str):
    data = request.get_json(silent=True) or request.form
    args = {"kind": data.get("kind"), "target": data.get("target"), "leg": data.get("leg")}
    command = request_command(db(), current_user(), action if action in ACTIONS else "?", args,
                              clock=clock())
    db().commit()
    return jsonify(command_id=command.id, action=command.action, state=command.state,
                   target=command.args.get("label")), 202
