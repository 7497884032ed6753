"""Three-way calls (T6) from the call bar, over a real AMI socket against the simulator: the
model queues the control, the console runner rings the party, moves the call into its room once
answered, lists and drops parties; the call log (fed by the AMI listener) keeps one call with
every leg. A party who does not answer leaves the call as it was."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from agi.ami.client import AMIClient
from agi.console import conference
from agi.console.commands import CommandRunner
from models.errors import DomainError
from models.schema import Event
from models.schema.call_commands import CallCommand
from models.schema.calls import Call, CallLeg
from models.telephony.call_commands import (allowed_actions, call_status, parties,
                                            request_command)

from tests.agi.ami.test_call_log import SECRET, run, wait_for
from tests.agi.console.test_conference import (OUTSIDE, agents, call_state, listener,  # noqa: F401
                                               live_call, make_pbx, members, pbx, until)


@pytest.fixture
def runner(Session, pbx):
    client = AMIClient("127.0.0.1", pbx.port, "dialfunnel", SECRET)   # OriginateResponse: events
    client.connect()
    yield CommandRunner(Session, client, runner_id="test", clock=pbx.clock)
    client.close()


def ask(Session, user, action, args=None, *, clock):
    with Session() as s:
        command = request_command(s, s.merge(user), action, args, clock=clock)
        s.commit()
        return command.id


def state_of(Session, command_id):
    with Session() as s:
        return s.get(CallCommand, command_id)


def finished(Session, runner, pbx, command_id):
    """Run the runner's rounds while the simulator's clock moves, until the control ended."""
    def ended():
        run(pbx, 0.5)
        runner.run_once()
        return state_of(Session, command_id).state in ("done", "failed")
    wait_for(ended)
    return state_of(Session, command_id)


def on_call(Session, user):
    with Session() as s:
        status = call_status(s, user.id)
        return status, (parties(s, status) if status else [])


def prefixes(found):
    return sorted(p["channel"].rsplit("-", 1)[0] for p in found)


def test_conference_with_a_colleague_listed_dropped_and_the_agent_leaves(
        Session, agents, pbx, listener, runner):
    tm, tm2 = agents["tm"], agents["tm2"]
    call, call_id = live_call(Session, pbx, listener)
    agent, customer = call.legs["o1"]["Channel"], call.legs["t1"]["Channel"]
    room = conference.room_for_call(call_id)
    first = ask(Session, tm, "conference", {"kind": "extension", "target": "8002"}, clock=pbx.clock)
    assert runner.run_once() == 1
    assert state_of(Session, first).state == "running"        # the colleague's phone rings
    assert members(pbx, room) == []                            # the call is as it was
    done = finished(Session, runner, pbx, first)
    assert done.state == "done", done.reason
    until(pbx, lambda: len(members(pbx, room)) == 3)
    wait_for(lambda: len(on_call(Session, tm)[1]) == 3)
    status, found = on_call(Session, tm)
    assert status.in_room and prefixes(found) == ["PJSIP/8001", "PJSIP/8002", "PJSIP/dialfunnel-trunk"]
    assert [p["name"] for p in found if p["user_id"] == tm2.id] == [tm2.full_name]
    with Session() as s:    # the agent's bar hears of the colleague joining (the call log's)
        told = s.scalars(select(Event.payload).where(Event.kind == "call_bar",
                                                     Event.user_id == tm.id)).all()
    assert {"linkedid": call.channel_id, "change": "joined"} in told

    second = ask(Session, tm, "add_party", {"kind": "number", "target": OUTSIDE}, clock=pbx.clock)
    runner.run_once()
    added = finished(Session, runner, pbx, second)
    assert added.state == "done", added.reason
    [orig] = [m for m in pbx.actions("Originate") if "trunk-out" in m["Channel"]]
    assert (orig["Context"], orig["Exten"]) == ("dialfunnel-conference", room)
    wait_for(lambda: len(on_call(Session, tm)[1]) == 4)
    [(outside, leg)] = [(p["channel"], p["leg"]) for p in on_call(Session, tm)[1]
                        if p["channel"].startswith("Local/")]
    drop = ask(Session, tm, "drop_party", {"leg": leg}, clock=pbx.clock)
    assert finished(Session, runner, pbx, drop).state == "done"
    until(pbx, lambda: outside not in members(pbx, room))
    wait_for(lambda: len(on_call(Session, tm)[1]) == 3)
    with Session() as s:    # the call log's word, beside the control's own "done"
        told = s.scalars(select(Event.payload).where(Event.kind == "call_bar",
                                                     Event.user_id == tm.id)).all()
    assert [p.get("change") for p in told if p.get("change") in ("joined", "left")] == [
        "joined", "joined", "left"]

    leave = ask(Session, tm, "hangup", clock=pbx.clock)        # the agent leaves the room
    assert finished(Session, runner, pbx, leave).state == "done"
    until(pbx, lambda: agent not in members(pbx, room))
    run(pbx, 5)
    assert sorted(c.rsplit("-", 1)[0] for c in members(pbx, room)) == [
        "PJSIP/8002", "PJSIP/dialfunnel-trunk"]                # the customer and the colleague talk
    call_state(Session, call_id, "up")
    wait_for(lambda: on_call(Session, tm)[0] is None)   # the listener writes the agent's Hangup
    assert on_call(Session, tm) == (None, [])
    with Session() as s:
        assert call_status(s, tm2.id).call.id == call_id      # the colleague's bar has the call

    for channel in [c for c in members(pbx, room)]:
        runner.ami.hangup(channel)
        until(pbx, lambda: channel not in members(pbx, room))
    call_state(Session, call_id, "ended")
    with Session() as s:
        assert s.scalar(select(Call).where(Call.id != call_id, Call.state != "ended")) is None
        rows = list(s.scalars(select(CallLeg).where(CallLeg.call_id == call_id)))
    assert sorted(leg.channel.rsplit("-", 1)[0] for leg in rows) == [
        "Local/8613900000009@dialfunnel-trunk-out", "Local/8613900000009@dialfunnel-trunk-out",
        "PJSIP/8001", "PJSIP/8002", "PJSIP/dialfunnel-trunk"]
    assert all(leg.ended_at is not None for leg in rows)
    assert customer in {leg.channel for leg in rows}


@pytest.mark.parametrize("number, why", [("8003", "no answer"), ("8004", "busy")])
def test_a_third_party_who_does_not_answer_leaves_the_call_as_it_was(
        Session, agents, pbx, listener, runner, number, why):
    from models.schema import User
    tm = agents["tm"]
    with Session() as s:
        s.add(User(username=f"u{number}", full_name=f"同事{number}", role_id=tm.role_id,
                   extension=number, active=True, password_hash="x",
                   created_at=pbx.clock.now()))
        s.commit()
    call, call_id = live_call(Session, pbx, listener)
    command = ask(Session, tm, "conference", {"kind": "extension", "target": number},
                  clock=pbx.clock)
    runner.run_once()
    failed = finished(Session, runner, pbx, command)
    assert failed.state == "failed" and failed.reason == f"同事{number} ({number}): {why}"
    assert pbx.actions("Redirect") == [] and not pbx.rooms.rooms
    assert pbx.calls[call.channel_id].bridged                  # agent and customer still talk
    status, found = on_call(Session, tm)
    assert not status.in_room and status.call.id == call_id and len(found) == 2
    assert {"hold", "conference"} <= set(allowed_actions(status))
    with pytest.raises(DomainError, match="call_bar.not_in_conference"):
        ask(Session, tm, "drop_party", {"leg": found[1]["leg"]}, clock=pbx.clock)


def test_the_customer_hangs_up_while_the_party_rings(Session, agents, pbx, listener, runner):
    """The room cannot start: the control fails with the PBX's words and the party who
    answered is hung up, not left alone in the room."""
    tm = agents["tm"]
    call, call_id = live_call(Session, pbx, listener)
    command = ask(Session, tm, "conference", {"kind": "extension", "target": "8002"},
                  clock=pbx.clock)
    runner.run_once()
    runner.ami.hangup(call.legs["t1"]["Channel"])
    call_state(Session, call_id, "ended")
    failed = finished(Session, runner, pbx, command)
    assert failed.state == "failed" and failed.reason.startswith("Channel does not exist: ")
    room = conference.room_for_call(call_id)
    until(pbx, lambda: members(pbx, room) == [])
    [hung] = [m["Channel"] for m in pbx.actions("Hangup") if m["Channel"].startswith("PJSIP/8002-")]
    assert hung
