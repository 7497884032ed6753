"""A tick that only decides (nothing to dial, no campaign refresh due) runs reads only: on
SQLite a deferred BEGIN beside the FastAGI handlers' writes, not a queue for the write lock;
on PostgreSQL no BEGIN/COMMIT round trips."""
from __future__ import annotations

from sqlalchemy import event

from models.db import SQLITE_BEGIN
from tests.agi.dialer.test_dialer_engine import START, world  # noqa: F401  (the fixture)

from tests.python_calls import python_calls


def test_a_quiet_tick_only_reads(world, engine):  # noqa: F811
    campaign_id, dialer, driver, server, clock = world({f"{n:02d}": "noanswer" for n in range(10, 20)})
    driver.run_until(START.timestamp() + 6)           # both agents' lines ringing, refreshed at 5 s
    assert len(dialer.lines) == 2 and clock.now().timestamp() < dialer._next_refresh
    begun = []

    def record(conn):
        options = conn.get_execution_options()
        begun.append(options.get(SQLITE_BEGIN) == "DEFERRED" or options.get("isolation_level") == "AUTOCOMMIT")
    event.listen(engine, "begin", record)
    try:
        dialed = dialer.counts["dialled"]
        dialer.tick()
    finally:
        event.remove(engine, "begin", record)
    assert dialer.counts["dialled"] == dialed
    assert begun and all(begun), begun


# about 530 on SQLite, 740 on PostgreSQL; 750 and 960 when the agents' poll built its query each tick
QUIET_TICK_BUDGET = {"sqlite": 650, "postgresql": 850}


def test_a_quiet_tick_stays_within_its_python_budget(world, engine):  # noqa: F811
    """A tick runs every second of a dialer's day and after every answer and hangup (50 agents:
    about 7,700 an hour): its reads are statements built once, run without the ORM's
    per-statement work."""
    campaign_id, dialer, driver, server, clock = world({f"{n:02d}": "noanswer" for n in range(10, 20)})
    driver.run_until(START.timestamp() + 6)
    costs = []
    for _ in range(4):
        dialed = dialer.counts["dialled"]
        costs.append(python_calls(dialer.tick))
        assert dialer.counts["dialled"] == dialed
    assert max(costs[1:]) <= QUIET_TICK_BUDGET[engine.dialect.name], costs   # the first fills caches
