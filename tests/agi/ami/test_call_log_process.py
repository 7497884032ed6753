"""The call log's writer in a process of its own (agi/ami/call_log_process.py), over a real AMI
socket against the simulator: its own connection asks only for the call log's events, and its
rows are the embedded writer's; the screen-pop listener beside it asks only for its own."""
from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest

from agi.ami.call_log import EVENTS
from agi.ami.call_log_process import CallLogProcess
from agi.ami.listener import POP_EVENTS, ScreenPopListener

from tests.agi.ami.test_call_log import (SECRET, T0, agents, ended_call, legs_of, make_pbx,  # noqa: F401
                                         placed, run, secs, simclock, wait_for)


@pytest.fixture
def pbx(simclock):
    server = make_pbx(simclock)
    yield server
    server.stop()


def test_the_call_log_in_its_own_process_writes_the_call(db_url, Session, agents, pbx, simclock):
    reports = multiprocessing.get_context("spawn").Queue()
    writer = CallLogProcess(db_url, port=pbx.port, username="dialfunnel", secret=SECRET,
                            reports=reports).start()
    pops = ScreenPopListener(Session, host="127.0.0.1", port=pbx.port, username="dialfunnel",
                             secret=SECRET, clock=simclock, call_log=False)
    popped = set()
    pops.client.on("*", lambda msg: popped.add(msg.name))
    pops.start()
    try:
        assert pops.wait_connected(5)
        wait_for(lambda: writer.status()["stats"].get("reconciles", 0) >= 1, timeout=30)
        status = writer.status()
        assert status["connected"] and status["filtered"]
        filters = sorted(m.get("MatchCriteria") for m in pbx.actions("Filter"))
        assert filters == sorted(f"action(include),name({name})" for name in EVENTS + POP_EVENTS)

        sim_call = placed(pbx, pbx.phone_call("8001", "13900000077"))
        run(pbx, 7)
        call = ended_call(Session, sim_call.channel_id)
        assert (call.direction, call.user_id, call.from_number, call.to_number) == (
            "manual", agents["tm"].id, "8001", "+8613900000077")
        assert (secs(call.answered_at, T0), call.ring_seconds, call.talk_seconds) == (2.0, 2.0, 4.0)
        assert sorted(leg.role for leg in legs_of(Session, call).values()) == ["agent", "customer"]
        assert writer.sync()

        hangups = []
        deadline = time.monotonic() + 5
        while len(hangups) < 2 and time.monotonic() < deadline:
            hangups += reports.get(timeout=5)[2]
        assert len(hangups) == 2          # both channels' Hangups, with Asterisk's Timestamp
        # the pops' connection got none of the call log's other events (Newchannel, Bridge*...)
        assert popped - {"FullyBooted", "SuccessfulAuth"} == {"DialBegin", "DialEnd", "Hangup", "VarSet",
                                                              "MixMonitorStop"}
    finally:
        pops.stop()
        stats = writer.stop()
    assert stats["events"] >= 8 and stats.get("errors", 0) == 0


def test_a_writer_process_that_died_is_started_again(db_url, Session, agents, pbx):
    writer = CallLogProcess(db_url, port=pbx.port, username="dialfunnel", secret=SECRET,
                            restart_delay=0.05).start()
    try:
        wait_for(lambda: writer.status()["stats"].get("reconciles", 0) >= 1, timeout=30)
        first = writer._process.pid
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: writer.restarts == 1, timeout=10)
        wait_for(lambda: writer.status()["stats"].get("reconciles", 0) >= 1, timeout=30)
        assert writer._process.pid != first
        sim_call = placed(pbx, pbx.phone_call("8001", "13900000077"))
        run(pbx, 7)
        assert ended_call(Session, sim_call.channel_id).user_id == agents["tm"].id
    finally:
        writer.stop()
