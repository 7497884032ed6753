"""What one pacing decision of the real dialer costs at a large centre (issue 17: < 20 ms p99 at
500 agents and 2,000 lines in flight).

The real ``Dialer`` (agi.dialer.engine) over a real AMI socket to the PBX simulator, on a
database with N agents logged into a predictive campaign (ready, on a call, wrapping up,
paused) and L calls in flight (ringing, of every age up to the ring timeout; the trunk's
``trunk_lines`` is L, so the decision is made in full and nothing is dialled). Between two
ticks a few agents change state through the web's function (agent_states.set_state), as a
floor of that size does each second. Printed: the tick's decision time (the live view's poll,
the agents' and lines' view, the pacer) p50/p99/max, and for comparison what the old way's
read of every agent (agent_snapshot, once per campaign per decision) costs alone.

    python bench/dialer_decisions.py                        # 500 agents, 2,000 lines, SQLite
    python bench/dialer_decisions.py --agents 500 --lines 2000 --db postgresql+psycopg:///df?host=/var/run/postgresql
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agi.ami.client import AMIClient  # noqa: E402
from agi.dialer.engine import Dialer, Line  # noqa: E402
from agi.dialer.simulation import start_with_ready_team  # noqa: E402
from agi.pbxsim.ami_scenarios import Scenario  # noqa: E402
from agi.pbxsim.ami_server import AMIServer  # noqa: E402
from agi.pbxsim.clock import FakeClock  # noqa: E402
from models.db import make_engine, make_sessionmaker  # noqa: E402
from models.dialer import agent_states, campaigns  # noqa: E402
from models.migrate import upgrade  # noqa: E402
from models.org.users import create_user  # noqa: E402
from models.schema import Customer, User  # noqa: E402
from models.setup import install_defaults  # noqa: E402

from bench.world_flags import COUNT, NATURAL, check  # noqa: E402

START = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.timezone.utc)  # 10:00 in Shanghai


def build(maker, agents: int, clock) -> tuple[int, list[int]]:
    with maker.begin() as s:
        install_defaults(s)
        admin = create_user(s, "benchadmin", "Bench Admin", "pw-" + uuid.uuid4().hex, "admin", clock=clock)
        team = [create_user(s, f"agent{i:03d}", f"Agent {i:03d}", "pw-" + uuid.uuid4().hex,
                            "telemarketer", clock=clock) for i in range(agents)]
        now = clock.now()
        for n in range(200):   # leads, so the campaign is not finished for want of them
            s.add(Customer(name=f"Bench customer {n}", ownership="shared", stage="target",
                           phone=f"139{n:08d}", phone_e164=f"+86139{n:08d}", created_at=now, updated_at=now))
        s.flush()
        campaign = campaigns.create_campaign(s, admin, clock=clock, name="Bench", mode="predictive",
                                             filter_stage="target", ring_timeout_s=25)
        start_with_ready_team(s, admin, campaign, team, clock=clock)
        return campaign.id, [u.id for u in team]


def percentiles(seconds: list[float]) -> str:
    ms = sorted(1000.0 * t for t in seconds)
    return (f"p50 {ms[len(ms) // 2]:.2f} ms, p99 {ms[min(len(ms) - 1, int(len(ms) * 0.99))]:.2f} ms, "
            f"max {ms[-1]:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--lines", type=int, default=2000, help="calls in flight (ringing)")
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--moves", type=int, default=10, help="agents' state changes between two ticks")
    parser.add_argument("--db", default="", help="database URL (default: SQLite in a temp dir); "
                        "its tables are created if missing, so give an empty database")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    check(parser, args, {"agents": COUNT, "lines": NATURAL, "ticks": COUNT, "moves": NATURAL})
    logging.basicConfig(level=logging.ERROR)
    rng = random.Random(args.seed)
    clock = FakeClock(START)
    url = args.db or f"sqlite:///{tempfile.mkdtemp(prefix='dialer-decisions-')}/bench.db"
    engine = make_engine(url)
    upgrade(engine)
    maker = make_sessionmaker(engine)
    campaign_id, team = build(maker, args.agents, clock)
    server = AMIServer(scenario=Scenario(seed=args.seed), clock=clock).start()
    ami = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret", events="call,user",
                    reconnect=False)
    ami.connect()
    dialer = Dialer(maker, ami, clock=clock, dialer_id="bench", trunk="Local/{number}@bench",
                    pacer_mode="predictive", trunk_lines=args.lines)
    dialer.attach()
    for n in range(args.lines):
        channel_id = uuid.uuid4().hex
        dialer.lines[channel_id] = Line(n + 1, campaign_id, channel_id, f"138{n:08d}", 0.0)
    dialer.decision_seconds = []
    old_way: list[float] = []
    try:
        for _ in range(args.ticks):
            clock.set(clock.now() + dt.timedelta(seconds=1))
            now = clock.now().timestamp()
            with maker() as s:
                for user_id in rng.sample(team, args.moves):
                    user = s.get(User, user_id)
                    state = agent_states.current(s, user_id).state
                    agent_states.set_state(s, user, "paused" if state == "ready" else "ready",
                                           reason="break" if state == "ready" else None, clock=clock)
                s.commit()
            for line in dialer.lines.values():   # ringing, 0 to 25 s old
                line.started = now - rng.uniform(0.0, 25.0)
            dialer.tick()
            started = time.perf_counter()
            with maker() as s:
                agent_states.agent_snapshot(s, campaign_id)
            old_way.append(time.perf_counter() - started)
    finally:
        ami.close()
        server.stop()
    ticks = dialer.decision_seconds[1:]      # the first one reads every agent
    print(f"{args.agents} agents, {len(dialer.lines)} lines in flight, {args.moves} state changes a "
          f"second, {engine.dialect.name}, {len(ticks)} ticks")
    print(f"  a decision (live view: poll of the changed rows, views, pacer): {percentiles(ticks)}")
    print(f"  the first (every agent read): {1000.0 * dialer.decision_seconds[0]:.2f} ms; "
          f"rows read in all {dialer.board.rows_read}")
    print(f"  the old way's read of every agent alone (agent_snapshot): {percentiles(old_way)}")
    engine.dispose()


if __name__ == "__main__":
    main()
