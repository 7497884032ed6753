"""The simulation's barrier (agi.dialer.simulation.Barrier) over a real AMI socket: a round trip
whenever an action was written or an event emitted since the last one, none otherwise."""
from __future__ import annotations

import datetime as dt

from agi.ami.client import AMIClient
from agi.dialer.simulation import Barrier
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock


def test_round_trip_only_when_something_moved():
    server = AMIServer(clock=FakeClock(dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.timezone.utc))).start()
    ami = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret", events="call,user",
                    reconnect=False)
    seen = []
    try:
        barrier = Barrier(ami, server)
        ami.on("UserEvent", lambda msg: seen.append(msg.get("UserEvent")))
        ami.connect()
        # the login's own event (SuccessfulAuth) may be counted after the first wait read its
        # marks: one more round trip then, harmless; from there on the counts are exact
        barrier.wait()
        barrier.wait()
        settled = barrier.round_trips
        assert settled in (1, 2)
        barrier.wait()                                    # nothing since: no round trip
        assert barrier.round_trips == settled
        ami.send_action("Ping")                           # an action written
        barrier.wait()
        assert barrier.round_trips == settled + 1
        server.emit("UserEvent", [("UserEvent", "FromTheSimulator")])   # an event emitted
        barrier.wait()
        assert barrier.round_trips == settled + 2
        assert "FromTheSimulator" in seen                 # it came through before wait() returned
        barrier.wait()
        assert barrier.round_trips == settled + 2
        blind = Barrier(ami)                              # no simulator at hand: every time
        blind.wait()
        blind.wait()
        assert blind.round_trips == 2
    finally:
        ami.close()
        server.stop()
