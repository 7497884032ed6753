"""The call bar's controls run over a real AMI socket against the simulator, with the call log
(fed by the AMI listener) checked after each: hold/resume, mute, blind and attended transfers,
the refusals (a busy colleague, a call that just ended)."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from agi.ami.client import AMIClient
from agi.console.commands import CommandRunner
from models.errors import DomainError
from models.schema import Event
from models.schema.call_commands import CallCommand
from models.schema.calls import Call, CallLeg
from models.telephony.call_commands import request_command

from tests.agi.ami.test_call_log import (SECRET, agents, ended_call, listener, make_pbx, phone,  # noqa: F401
                                         placed, run, simclock, wait_for)

CUSTOMER = "13800000004"


@pytest.fixture
def pbx(simclock):
    server = make_pbx(simclock, timing={"click": {"agent_ring": 1.0, "ring_time": 2.0,
                                                  "talk_time": 600.0}})
    yield server
    server.stop()


@pytest.fixture
def runner(Session, pbx, simclock):
    client = AMIClient("127.0.0.1", pbx.port, "dialfunnel", SECRET, events=False)
    client.connect()
    yield CommandRunner(Session, client, runner_id="test", clock=simclock)
    client.close()


def caught_up(listener):
    """Every event the simulator sent so far is in the call log: the listener's reader has
    them once the answer to a later Ping came on the same socket, its dispatcher once its
    queue is empty."""
    client = listener.client
    client.ping(timeout=5)
    wait_for(lambda: client._events.empty())
    time.sleep(0.02)      # the event being dispatched when the queue emptied
    assert listener.call_log.sync()


def up_call(Session, pbx, phone, listener, agent):
    """A click-to-call of the agent 8001 to the customer, talking."""
    handle = placed(pbx, phone.originate("Local/8001@cap-phones", context="cap-out",
                                         exten=CUSTOMER, timeout_ms=30000))
    run(pbx, 4)
    caught_up(listener)
    with Session() as s:
        call = s.scalar(select(Call).where(Call.linkedid == handle.channel_id))
        assert call.state == "up"
    return handle.channel_id


def control(Session, runner, pbx, listener, user, action, args=None, *, clock, then=0.5):
    with Session() as s:
        command = request_command(s, s.merge(user), action, args, clock=clock)
        s.commit()
        command_id = command.id
    assert runner.run_once() == 1
    assert pbx.wait_handled()
    run(pbx, then)
    caught_up(listener)
    with Session() as s:
        return s.get(CallCommand, command_id)


def legs(Session, linkedid):
    with Session() as s:
        call = s.scalar(select(Call).where(Call.linkedid == linkedid))
        return call, list(s.scalars(select(CallLeg).where(CallLeg.call_id == call.id)
                                    .order_by(CallLeg.id)))


def hang_up_customer(pbx, phone, listener, linkedid):
    call = pbx.calls[linkedid]
    phone.hangup(call.legs["c1"]["Channel"])
    assert pbx.wait_handled()
    run(pbx, 0.5)
    caught_up(listener)


def test_hold_then_resume_counts_the_hold_seconds(Session, agents, pbx, listener, phone, runner,
                                                   simclock):
    tm = agents["tm"]
    linkedid = up_call(Session, pbx, phone, listener, tm)
    held = control(Session, runner, pbx, listener, tm, "hold", clock=simclock, then=7)
    assert held.state == "done", held.reason
    assert [m["Context"] for m in pbx.actions("Redirect")] == ["dialfunnel-hold"]
    resumed = control(Session, runner, pbx, listener, tm, "resume", clock=simclock)
    assert resumed.state == "done", resumed.reason
    hang_up_customer(pbx, phone, listener, linkedid)
    call = ended_call(Session, linkedid)
    assert call.hold_seconds == pytest.approx(7.0, abs=0.01)


def test_mute_and_unmute_the_agent(Session, agents, pbx, listener, phone, runner, simclock):
    tm = agents["tm"]
    linkedid = up_call(Session, pbx, phone, listener, tm)
    assert control(Session, runner, pbx, listener, tm, "mute", clock=simclock).state == "done"
    assert pbx.calls[linkedid].muted == {"o1": True}
    [sent] = pbx.actions("MuteAudio")
    assert (sent["Direction"], sent["State"]) == ("in", "on")
    assert control(Session, runner, pbx, listener, tm, "unmute", clock=simclock).state == "done"
    assert pbx.calls[linkedid].muted == {"o1": False}


def test_blind_transfer_to_a_colleague_keeps_the_call(Session, agents, pbx, listener, phone,
                                                      runner, simclock):
    tm, tm2 = agents["tm"], agents["tm2"]
    linkedid = up_call(Session, pbx, phone, listener, tm)
    done = control(Session, runner, pbx, listener, tm, "blind_transfer",
                   {"kind": "extension", "target": "8002"}, clock=simclock, then=2)
    assert done.state == "done", done.reason
    call, rows = legs(Session, linkedid)
    assert call.state == "up" and call.user_id == tm.id
    target = [leg for leg in rows if leg.user_id == tm2.id]
    assert [leg.channel.split("-")[0] for leg in target] == ["PJSIP/8002"]
    agent_leg = next(leg for leg in rows if leg.user_id == tm.id)
    assert agent_leg.ended_at is not None and target[0].ended_at is None
    with Session() as s:     # both call bars hear of it (the web asks for the call again)
        told = s.execute(select(Event.user_id, Event.payload).where(Event.kind == "call_bar")).all()
    assert (tm2.id, {"linkedid": linkedid, "change": "answered"}) in told
    assert (tm.id, {"linkedid": linkedid, "change": "ended"}) in told
    hang_up_customer(pbx, phone, listener, linkedid)
    assert ended_call(Session, linkedid).state == "ended"


def test_attended_transfer_completed(Session, agents, pbx, listener, phone, runner, simclock):
    tm, tm2 = agents["tm"], agents["tm2"]
    linkedid = up_call(Session, pbx, phone, listener, tm)
    consult = control(Session, runner, pbx, listener, tm, "attended_transfer",
                      {"kind": "user", "target": "张军"}, clock=simclock, then=2)
    assert consult.state == "done", consult.reason
    with pytest.raises(DomainError, match="call_bar.already_held"):
        with Session() as s:
            request_command(s, s.merge(tm), "hold", clock=simclock)
    done = control(Session, runner, pbx, listener, tm, "complete_transfer", clock=simclock, then=3)
    assert done.state == "done", done.reason
    call, rows = legs(Session, linkedid)
    assert call.state == "up" and call.user_id == tm.id
    assert any(leg.user_id == tm2.id and leg.ended_at is None for leg in rows)
    assert all(leg.ended_at is not None for leg in rows if leg.user_id == tm.id)
    hang_up_customer(pbx, phone, listener, linkedid)
    call = ended_call(Session, linkedid)
    # music while the agent consulted: from the feature code (0.26 s, seen at the clock's next
    # half-second step) to the completion 2 s after the Atxfer
    assert call.hold_seconds == pytest.approx(1.5, abs=0.01)


def test_attended_transfer_cancelled(Session, agents, pbx, listener, phone, runner, simclock):
    tm, tm2 = agents["tm"], agents["tm2"]
    linkedid = up_call(Session, pbx, phone, listener, tm)
    control(Session, runner, pbx, listener, tm, "attended_transfer",
            {"kind": "extension", "target": "8002"}, clock=simclock, then=2)
    done = control(Session, runner, pbx, listener, tm, "cancel_transfer", clock=simclock)
    assert done.state == "done", done.reason
    call, rows = legs(Session, linkedid)
    assert call.state == "up"
    assert all(leg.ended_at is not None for leg in rows if leg.user_id == tm2.id)
    assert any(leg.user_id == tm.id and leg.ended_at is None for leg in rows)
    assert [m["Channel"] for m in pbx.actions("CancelAtxfer")] == [pbx.calls[linkedid].legs["o1"]["Channel"]]


def test_transfer_to_a_busy_colleague_is_refused_before_anything_moves(
        Session, agents, pbx, listener, phone, runner, simclock):
    tm = agents["tm"]
    pbx.scenario.busy_extensions.add("8002")
    linkedid = up_call(Session, pbx, phone, listener, tm)
    failed = control(Session, runner, pbx, listener, tm, "blind_transfer",
                     {"kind": "extension", "target": "8002"}, clock=simclock)
    assert failed.state == "failed" and "InUse" in failed.reason
    assert pbx.actions("BlindTransfer") == []
    assert pbx.calls[linkedid].bridged


def test_hold_of_a_call_that_just_ended(Session, agents, pbx, listener, phone, runner, simclock):
    tm = agents["tm"]
    linkedid = up_call(Session, pbx, phone, listener, tm)
    with Session() as s:
        command = request_command(s, s.merge(tm), "hold", clock=simclock)
        s.commit()
    hang_up_customer(pbx, phone, listener, linkedid)       # before the runner got to it
    ended_call(Session, linkedid)
    assert runner.run_once() == 1
    with Session() as s:
        failed = s.get(CallCommand, command.id)
        assert failed.state == "failed" and failed.reason == "Channel does not exist: customer"
        with pytest.raises(DomainError, match="call_bar.no_call"):
            request_command(s, s.merge(tm), "hold", clock=simclock)


def test_the_dialer_process_runs_the_controls(Session, agents, pbx, listener, phone, simclock):
    """agi/dialer/process.py starts the console runner beside the dialer."""
    import dataclasses

    from agi.dialer.process import start_dialer
    from config.settings import Settings

    tm = agents["tm"]
    up_call(Session, pbx, phone, listener, tm)
    with Session() as s:
        command_id = request_command(s, s.merge(tm), "mute", clock=simclock).id
        s.commit()
    settings = dataclasses.replace(Settings(), dialer_id="console-test")
    dialer, thread = start_dialer(settings, Session, port=pbx.port, secret=SECRET, clock=simclock)
    try:
        def state():
            with Session() as s:
                return s.get(CallCommand, command_id).state
        wait_for(lambda: state() == "done")
        assert [m["Direction"] for m in pbx.actions("MuteAudio")] == ["in"]
    finally:
        dialer.stop()
        thread.join(10)


def test_hang_up_while_held_ends_the_customers_music_too(Session, agents, pbx, listener, phone,
                                                           runner, simclock):
    tm = agents["tm"]
    linkedid = up_call(Session, pbx, phone, listener, tm)
    control(Session, runner, pbx, listener, tm, "hold", clock=simclock, then=2)
    done = control(Session, runner, pbx, listener, tm, "hangup", clock=simclock)
    assert done.state == "done", done.reason
    call = pbx.calls[linkedid]
    assert [m["Channel"] for m in pbx.actions("Hangup")] == [call.legs["o1"]["Channel"],
                                                             call.legs["c1"]["Channel"]]
    ended = ended_call(Session, linkedid)
    assert ended.hold_seconds == pytest.approx(2.0, abs=0.01)


def test_a_dialer_call_put_through_to_an_agent(Session, session, agents, simclock, clock,
                                              make_customer):
    """The dialer's call: the customer's channel first, the agent's phone (PJSIP/8002) rung for
    it. The agent holds, resumes, then sends the customer to a colleague."""
    from tests.agi.ami.test_call_log import make_attempt, start_listener

    pbx = make_pbx(simclock, timing={"answer": {"setup_time": 0.0, "ring_time": 0.0,
                                                "answer_delay": 0.5, "talk_time": 600.0,
                                                "agent_ring": 2.0}})
    listener = start_listener(Session, pbx, simclock)
    client = AMIClient("127.0.0.1", pbx.port, "dialfunnel", SECRET, events=False)
    client.connect()
    try:
        runner = CommandRunner(Session, client, runner_id="test", clock=simclock)
        customer = make_customer("杭州西湖茶叶有限公司", owner=None, mobile="13900000001")
        attempt = make_attempt(session, clock, "13900000001", customer)
        placed(pbx, client.originate("Local/13900000001@tx-outcomes", context="dialfunnel-outbound",
                                     exten="s", channel_id=attempt.channel_id))
        run(pbx, 4)
        caught_up(listener)
        tm2 = agents["tm2"]
        assert control(Session, runner, pbx, listener, tm2, "hold", clock=simclock,
                       then=3).state == "done"
        resumed = control(Session, runner, pbx, listener, tm2, "resume", clock=simclock)
        assert resumed.state == "done", resumed.reason
        [bridge] = pbx.actions("Bridge")
        assert bridge["Channel1"].startswith("PJSIP/8002-")
        moved = control(Session, runner, pbx, listener, tm2, "blind_transfer",
                        {"kind": "user", "target": "李红光"}, clock=simclock, then=2)
        assert moved.state == "done", moved.reason
        call, rows = legs(Session, attempt.channel_id)
        assert call.state == "up" and call.user_id == tm2.id and call.hold_seconds == 3.0
        assert any(leg.user_id == agents["tm"].id and leg.ended_at is None for leg in rows)
    finally:
        client.close()
        listener.stop()
        pbx.stop()
