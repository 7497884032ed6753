"""The call bar's controls as the model sees them: what is refused, before anything is queued."""
from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import func, select

from models.dialer.dnc import add_number
from models.errors import DomainError
from models.schema import Event
from models.schema.call_commands import CallCommand
from models.telephony import calls
from models.telephony.call_commands import (
    allowed_actions,
    call_status,
    claim_commands,
    finish_command,
    request_command,
)
from models.telephony.calls import Chan

SERIAL = itertools.count(1)


def live_call(session, clock, extension="8001", number="13800000004", *, answered=True):
    """A click-to-call: the agent's phone (Local ;1) dials the customer, who answers."""
    n = next(SERIAL)
    linkedid = f"cmd-{n}"
    agent = Chan(f"Local/{extension}@cap-phones-{n:08x};1", linkedid, linkedid, 0, None, None,
                 "cap-out", number)
    customer = Chan(f"Local/{number}@cap-carrier-{n + 100:08x};1", f"cust-{n}", linkedid, 0,
                    number, None, "cap-carrier", number)
    t0 = clock.now()
    calls.channel_seen(session, agent, t0)
    calls.dial_begin(session, agent, customer, t0 + dt.timedelta(seconds=1))
    if answered:
        calls.dial_end(session, agent, customer, "ANSWER", t0 + dt.timedelta(seconds=3))
    session.commit()
    return agent, customer


@pytest.fixture
def agent(session, users):
    users["tm"].extension = "8001"
    users["tm2"].extension = "8002"
    session.commit()
    return users["tm"]


def queued(session):
    return session.scalar(select(func.count()).select_from(CallCommand))


def refused(session, user, action, args=None, *, clock):
    before = queued(session)
    with pytest.raises(DomainError) as err:
        request_command(session, user, action, args, clock=clock)
    session.rollback()
    assert queued(session) == before, "a refusal queues nothing"
    return err.value.key


def test_no_call_and_unknown_action_are_refused(session, agent, clock):
    assert refused(session, agent, "hold", clock=clock) == "call_bar.no_call"
    live_call(session, clock)
    assert refused(session, agent, "explode", clock=clock) == "call_bar.unknown_action"


def test_a_ringing_call_cannot_be_held(session, agent, clock):
    live_call(session, clock, answered=False)
    assert refused(session, agent, "hold", clock=clock) == "call_bar.not_up"


def test_a_call_that_ended_cannot_be_held(session, agent, clock):
    phone, customer = live_call(session, clock)
    for ch in (customer, phone):
        calls.channel_ended(session, ch, 16, clock.now())
    session.commit()
    assert refused(session, agent, "hold", clock=clock) == "call_bar.no_call"


def done(session, command, clock):
    [claimed] = claim_commands(session, "test")
    assert claimed.id == command.id
    finish_command(session, claimed, clock=clock)
    session.commit()


def test_hold_then_resume_and_one_control_at_a_time(session, agent, clock):
    live_call(session, clock)
    assert refused(session, agent, "resume", clock=clock) == "call_bar.not_held"
    assert "resume" not in allowed_actions(call_status(session, agent.id))
    hold = request_command(session, agent, "hold", clock=clock)
    session.commit()
    assert hold.state == "queued" and hold.args["customer_channel"].startswith("Local/13800000004@")
    assert refused(session, agent, "mute", clock=clock) == "call_bar.pending"
    done(session, hold, clock)
    assert refused(session, agent, "hold", clock=clock) == "call_bar.already_held"
    assert refused(session, agent, "blind_transfer", {"kind": "extension", "target": "8002"},
                   clock=clock) == "call_bar.held_or_consulting"
    assert "resume" in allowed_actions(call_status(session, agent.id))
    done(session, request_command(session, agent, "resume", clock=clock), clock)
    assert call_status(session, agent.id).held is False
    kinds = session.scalars(select(Event.payload).where(Event.kind == "call_bar").order_by(Event.id)).all()
    assert [p["change"] for p in kinds if "change" in p] == ["answered"]   # the call log's
    assert [(p["action"], p["state"]) for p in kinds if "action" in p] == [
        ("hold", "queued"), ("hold", "done"), ("resume", "queued"), ("resume", "done")]


def test_complete_and_cancel_only_during_a_consultation(session, agent, clock):
    live_call(session, clock)
    assert refused(session, agent, "complete_transfer", clock=clock) == "call_bar.not_consulting"
    assert refused(session, agent, "cancel_transfer", clock=clock) == "call_bar.not_consulting"
    done(session, request_command(session, agent, "attended_transfer",
                                  {"kind": "user", "target": "张军"}, clock=clock), clock)
    assert refused(session, agent, "hold", clock=clock) == "call_bar.already_held"
    assert refused(session, agent, "hangup", clock=clock) == "call_bar.consulting"
    command = request_command(session, agent, "cancel_transfer", clock=clock)
    assert command.args["target"]["label"] == "张军 (8002)"


@pytest.mark.parametrize("args, key", [
    ({"kind": "fax", "target": "1"}, "call_bar.bad_target_kind"),
    ({"kind": "extension", "target": ""}, "call_bar.target_required"),
    ({"kind": "extension", "target": "8999"}, "call_bar.unknown_extension"),
    ({"kind": "extension", "target": "8001"}, "call_bar.transfer_to_self"),
    ({"kind": "user", "target": "nobody"}, "call_bar.unknown_colleague"),
    ({"kind": "user", "target": "罗文冲"}, "call_bar.colleague_no_extension"),
    ({"kind": "queue", "target": "support"}, "call_bar.unknown_queue"),
    ({"kind": "number", "target": "12"}, "call_bar.bad_number"),
    ({"kind": "number", "target": "139 0000 0009"}, "call_bar.do_not_call"),
])
def test_transfer_targets_are_checked(session, agent, users, clock, args, key):
    add_number(session, None, "13900000009", clock=clock)
    live_call(session, clock)
    assert refused(session, agent, "blind_transfer", args, clock=clock) == key


@pytest.mark.parametrize("args, exten", [
    ({"kind": "extension", "target": "8002"}, "8002"),
    ({"kind": "user", "target": "tm2"}, "8002"),
    ({"kind": "queue", "target": "sales"}, "sales"),
    ({"kind": "number", "target": "139-0000-0001"}, "8613900000001"),
])
def test_transfer_targets_resolve_to_the_transfer_context(session, agent, users, clock, args, exten):
    live_call(session, clock)
    command = request_command(session, agent, "blind_transfer", args, clock=clock)
    assert (command.args["context"], command.args["exten"]) == ("dialfunnel-transfer", exten)


def test_two_runners_never_claim_one_command(session, Session, agent, clock):
    live_call(session, clock)
    request_command(session, agent, "mute", clock=clock)
    session.commit()
    with Session() as other:
        assert len(claim_commands(other, "b")) == 1
        other.commit()
    assert claim_commands(session, "a") == []


def test_three_way_refusals_and_targets(session, agent, users, clock):
    """A three-way call: not while held, no do-not-call number, the manager found by the team;
    once in the room no hold or transfer, a party dropped only if it is on the call."""
    from models.schema import Campaign, CampaignAgent
    from models.telephony.call_commands import parties

    _, customer = live_call(session, clock)
    for action in ("add_party", "drop_party"):
        assert refused(session, agent, action, {"kind": "extension", "target": "8002"},
                       clock=clock) == "call_bar.not_in_conference"
    assert refused(session, agent, "conference", {"kind": "queue", "target": "sales"},
                   clock=clock) == "call_bar.bad_party_kind"
    assert refused(session, agent, "conference", {"kind": "manager"},
                   clock=clock) == "call_bar.no_manager"
    add_number(session, None, "+8613900000009", clock=clock)
    session.commit()
    assert refused(session, agent, "conference", {"kind": "number", "target": "13900000009"},
                   clock=clock) == "call_bar.do_not_call"
    hold = request_command(session, agent, "hold", clock=clock)
    done(session, hold, clock)
    assert refused(session, agent, "conference", {"kind": "user", "target": "8002"},
                   clock=clock) == "call_bar.held_or_consulting"
    done(session, request_command(session, agent, "resume", clock=clock), clock)

    users["mgr"].extension = "8009"
    campaign = Campaign(name="sales-a", created_at=clock.now(), created_by_id=users["mgr"].id)
    session.add(campaign)
    session.flush()
    session.add(CampaignAgent(campaign_id=campaign.id, user_id=agent.id))
    session.commit()
    three = request_command(session, agent, "conference", {"kind": "manager"}, clock=clock)
    session.commit()
    call_id = call_status(session, agent.id).call.id
    assert (three.args["exten"], three.args["user_id"], three.args["room"]) == (
        "8009", users["mgr"].id, str(call_id))
    assert refused(session, agent, "add_party", {"kind": "extension", "target": "8002"},
                   clock=clock) == "call_bar.pending"       # the manager's phone still rings
    done(session, three, clock)
    status = call_status(session, agent.id)
    assert status.in_room
    assert "hold" not in allowed_actions(status) and "drop_party" in allowed_actions(status)
    for action, args in (("hold", None), ("blind_transfer", {"kind": "extension", "target": "8002"}),
                         ("conference", {"kind": "extension", "target": "8002"})):
        assert refused(session, agent, action, args, clock=clock) == "call_bar.in_conference"
    assert [p["me"] for p in parties(session, status)] == [True, False]
    mine, theirs = parties(session, status)
    assert theirs["customer"] and not mine["customer"]
    for leg in (mine["leg"], theirs["leg"] + 100, None, "x"):
        assert refused(session, agent, "drop_party", {"leg": leg},
                       clock=clock) == "call_bar.not_a_party"
    drop = request_command(session, agent, "drop_party", {"leg": theirs["leg"]}, clock=clock)
    assert drop.args["channel"] == customer.channel and drop.args["room"] == str(call_id)


def test_a_control_left_queued_or_running_stops_blocking_the_next_one(session, agent, clock):
    """No dialer process took it, or its runner died mid-command: past the limit it fails and
    the agent may go on."""
    from models.telephony.call_commands import QUEUED_LIMIT, RUNNING_LIMIT
    live_call(session, clock)
    hold = request_command(session, agent, "hold", clock=clock)
    session.commit()
    clock.advance(seconds=QUEUED_LIMIT.total_seconds() - 1)
    assert refused(session, agent, "mute", clock=clock) == "call_bar.pending"
    clock.advance(seconds=2)
    mute = request_command(session, agent, "mute", clock=clock)
    session.commit()
    assert (hold.state, mute.state) == ("failed", "queued") and "timed out" in hold.reason
    [running] = claim_commands(session, "test")
    session.commit()
    clock.advance(seconds=RUNNING_LIMIT.total_seconds() - 1)
    assert refused(session, agent, "hold", clock=clock) == "call_bar.pending"
    clock.advance(seconds=2)
    assert request_command(session, agent, "hold", clock=clock).state == "queued"
    assert running.state == "failed" and call_status(session, agent.id).muted is False
