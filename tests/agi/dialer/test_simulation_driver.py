"""The simulation driver (agi.dialer.simulation): its bookkeeping must stay cheap, since an
8-hour campaign takes hundreds of thousands of its steps."""
from __future__ import annotations

import datetime as dt

from agi.ami.client import AMIClient
from agi.dialer.engine import Dialer
from agi.dialer.simulation import Driver
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock

START = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.timezone.utc)


def test_a_quiet_step_takes_one_barrier_round_trip_per_settle(Session):
    """When the simulator sent nothing since the barrier, the second barrier is skipped: every
    event it could have to wait for is already with the dialer."""
    clock = FakeClock(START)
    server = AMIServer(scenario=Scenario(), clock=clock).start()
    ami = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret",
                    events="call,user", reconnect=False)
    dialer = Dialer(Session, ami, clock=clock, dialer_id="test", trunk="Local/{number}@out")
    dialer.attach()
    driver = Driver(dialer, server, ami, clock)
    ami.connect()
    try:
        before = server.sent_count
        driver.run_until(START.timestamp() + 20)    # no campaign: a tick a second, nothing else
        barriers = server.sent_count - before
    finally:
        ami.close()
        server.stop()
    assert driver.steps >= 20
    assert barriers <= 2 * driver.steps + 2, (barriers, driver.steps)   # 4 a step before
