"""The dialer on several Asterisk servers (issue 17): the REAL engine against one PBX simulator
per server, each over its own AMI socket, on a fake clock that jumps from event to event.

Each server holds ``--agents`` agents (their extensions in its range) and ``--trunk-lines``
channels; one predictive campaign has every agent on its team. Answered calls are put through by
the dialer itself (route_answers: the simulators run no dialplan) to an agent on the call's own
server. ``--kill NAME --kill-at MIN`` stops one simulator mid-run: its lines are closed once they
cannot ring, its agents log out, the others go on.

    python bench/dialer_servers.py                                 # 3 servers x 100 agents, 1 hour
    python bench/dialer_servers.py --servers 2 --agents 20 --hours 0.5 --kill pbx2 --kill-at 10

Prints per server the dials, answers, abandons and lines closed as lost, then the decision time
(p50/p99/max of a tick's pacing, without the dialling), leads left open and wall time.
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select  # noqa: E402

from agi.ami.client import AMIClient  # noqa: E402
from agi.dialer.engine import Dialer  # noqa: E402
from agi.dialer.servers import PBX  # noqa: E402
from agi.dialer.simulation import Driver, SimulatedAgents, start_with_ready_team  # noqa: E402
from agi.pbxsim.ami_scenarios import Scenario  # noqa: E402
from agi.pbxsim.ami_server import AMIServer  # noqa: E402
from agi.pbxsim.clock import FakeClock  # noqa: E402
from models.db import make_engine, make_sessionmaker  # noqa: E402
from models.dialer import agent_states, campaigns  # noqa: E402
from models.migrate import upgrade  # noqa: E402
from models.org.users import create_user  # noqa: E402
from models.schema import AgentState, CampaignLead, Customer, DialAttempt, User  # noqa: E402
from models.setup import install_defaults  # noqa: E402

from bench.world_flags import (COUNT, NATURAL, NON_NEGATIVE, PERCENT, POSITIVE,  # noqa: E402
                               SHARE, check)

START = dt.datetime(2026, 11, 26, 1, 0, tzinfo=dt.timezone.utc)  # 09:00 in Shanghai
EXTENSIONS_PER_SERVER = 1000     # pbx1: 10000-10999, pbx2: 11000-11999, ...


def scenario(args, seed: int) -> Scenario:
    rest = 1.0 - args.answer - args.dead
    talk_mu = math.log(args.talk_mean) - 0.8 ** 2 / 2
    answered = {"setup_time": 0.0, "ring_time": (args.ring_min, args.ring_max), "answer_delay": 0.0,
                "talk_time": lambda rng: rng.lognormvariate(talk_mu, 0.8)}
    fast_fail = {"setup_time": (1.0, 3.0)}
    return Scenario(seed=seed, rates={"answer": args.answer, "unallocated": args.dead * 0.5,
                                      "absent": args.dead * 0.5, "noanswer": rest * 0.7, "busy": rest * 0.3},
                    timing={"answer": answered, "unallocated": fast_fail, "absent": fast_fail,
                            "busy": {"setup_time": (2.0, 5.0)},
                            "noanswer": {"setup_time": 0.0, "noanswer_wait": 120.0}})


def make_world(url: str, args, clock) -> tuple:
    engine = make_engine(url)
    upgrade(engine)
    maker = make_sessionmaker(engine)
    leads = int(args.servers * args.agents * args.hours * 3600 / (args.talk_mean + args.wrap)
                / max(args.answer, 0.05) * 1.3) + 200
    with maker.begin() as s:
        install_defaults(s)
        admin = create_user(s, "simadmin", "Sim Admin", "pw-" + uuid.uuid4().hex, "admin", clock=clock)
        team = []
        for server in range(args.servers):
            for i in range(args.agents):
                user = create_user(s, f"agent{server}-{i:03d}", f"Agent {server}-{i:03d}",
                                   "pw-" + uuid.uuid4().hex, "telemarketer", clock=clock)
                user.extension = str(10000 + EXTENSIONS_PER_SERVER * server + i)
                team.append(user)
        now = clock.now()
        rows = [dict(name=f"Sim customer {n:06d}", ownership="shared", stage="target",
                     phone=f"138{n:08d}", phone_e164=f"+86138{n:08d}", time_zone="Asia/Shanghai",
                     created_at=now, updated_at=now, contact_mark="not_contacted", tracking_mark="tracking",
                     number_status="unknown", do_not_call=False) for n in range(leads)]
        for start in range(0, len(rows), 5000):
            s.execute(insert(Customer), rows[start:start + 5000])
        campaign = campaigns.create_campaign(s, admin, clock=clock, name="Servers", mode="predictive",
                                             filter_stage="target", ring_timeout_s=args.ring_timeout,
                                             abandon_cap_pct=args.abandon_cap)
        start_with_ready_team(s, admin, campaign, team, clock=clock)
        campaign_id = campaign.id
    return engine, maker, campaign_id, leads


def log_out_agents_of(maker, clock, server: int) -> None:
    low = 10000 + EXTENSIONS_PER_SERVER * server
    with maker() as s:
        users = s.scalars(select(User).join(AgentState, AgentState.user_id == User.id)
                          .where(User.extension.between(str(low), str(low + EXTENSIONS_PER_SERVER - 1)))).all()
        for user in users:
            agent_states.set_state(s, user, "logged_out", clock=clock)
        s.commit()


def run(args) -> dict:
    clock = FakeClock(START)
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="dialer-servers-"))
    engine, maker, campaign_id, leads = make_world(args.db_url or f"sqlite:///{tmp}/sim.db", args, clock)
    sims, amis, servers = [], [], []
    for n in range(args.servers):
        sim = AMIServer(scenario=scenario(args, args.seed + n), clock=clock, write_recordings=False).start()
        ami = AMIClient("127.0.0.1", sim.port, "dialfunnel", "dialfunnel-secret", events="call,user",
                        reconnect=False)
        low = 10000 + EXTENSIONS_PER_SERVER * n
        servers.append(PBX(f"pbx{n + 1}", ami, args.trunk_lines, ((low, low + EXTENSIONS_PER_SERVER - 1),)))
        sims.append(sim)
        amis.append(ami)
    dialer = Dialer(maker, None, clock=clock, dialer_id="servers", trunk="Local/{number}@sim-out",
                    route_answers=True, pacer_mode=args.pacer, servers=servers)
    dialer.attach()
    dialer.decision_seconds = []
    driver = Driver(dialer, sims, amis, clock,
                    SimulatedAgents(maker, clock, campaign_id, lambda *_: rng.expovariate(1 / args.wrap)))
    for ami in amis:
        ami.connect()
    end = START.timestamp() + args.hours * 3600
    wall = time.perf_counter()
    try:
        dialer.tick()
        if args.kill:
            killed = [p.name for p in servers].index(args.kill)
            driver.run_until(START.timestamp() + args.kill_at * 60)
            sims[killed].stop()
            deadline = time.monotonic() + 10
            while amis[killed].connected and time.monotonic() < deadline:
                time.sleep(0.01)
            log_out_agents_of(maker, clock, killed)
        driver.run_until(end)
    finally:
        for ami, sim in zip(amis, sims):
            ami.close()
            sim.stop()
    wall = time.perf_counter() - wall
    with maker() as s:
        by_server = {(server, outcome): n for server, outcome, n in s.execute(
            select(DialAttempt.server, DialAttempt.outcome, func.count())
            .where(DialAttempt.campaign_id == campaign_id)
            .group_by(DialAttempt.server, DialAttempt.outcome)).all()}
        lost = s.scalar(select(func.count()).select_from(CampaignLead)
                        .where(CampaignLead.campaign_id == campaign_id, CampaignLead.status == "dialling"))
    engine.dispose()
    ms = sorted(1000.0 * t for t in dialer.decision_seconds) or [0.0]
    return dict(servers=dialer.server_counts, by_server=by_server, wall=wall, leads=leads,
                open=sum(n for (_, outcome), n in by_server.items() if outcome is None), dialling=lost,
                decisions=len(ms), p50=ms[len(ms) // 2], p99=ms[min(len(ms) - 1, int(len(ms) * 0.99))],
                max=ms[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    flags = {  # every world parameter: default, help
        "servers": (3, "Asterisk servers (PBX simulators)"),
        "agents": (100, "agents per server"),
        "trunk_lines": (0, "each server's trunk channels (0: no limit)"),
        "hours": (1.0, "simulated hours"),
        "answer": (0.3, "share of live answers"),
        "dead": (0.2, "share of failing numbers (空号 dead, 关机 retried)"),
        "talk_mean": (150.0, "mean talk time (s, lognormal)"),
        "wrap": (20.0, "mean wrap-up (s, exponential)"),
        "ring_min": (5.0, "shortest ring before an answer (s)"),
        "ring_max": (25.0, "longest ring before an answer (s)"),
        "ring_timeout": (25, "the campaign's ring timeout (s)"),
        "abandon_cap": (3.0, "the campaign's abandon cap (%%)"),
        "kill_at": (20.0, "minute of the run --kill stops its server"),
        "seed": (1, "random seed of the first simulator (+1 for each next one)"),
    }
    for name, (value, text) in flags.items():
        parser.add_argument("--" + name.replace("_", "-"), type=type(value), default=value,
                            help=f"{text} (default {value})")
    parser.add_argument("--pacer", default="predictive",
                        choices=("predictive", "progressive", "adapt_tapered", "naive"))
    parser.add_argument("--kill", default="", help="a server (pbx1, pbx2...) to stop at --kill-at")
    parser.add_argument("--db-url", default="", help="a database URL (default: a new SQLite file)")
    args = parser.parse_args()
    check(parser, args, {"servers": COUNT, "agents": COUNT, "trunk_lines": NATURAL,
                         "hours": POSITIVE, "answer": SHARE, "dead": SHARE,
                         "talk_mean": POSITIVE, "wrap": NON_NEGATIVE, "ring_min": NON_NEGATIVE,
                         "ring_max": NON_NEGATIVE, "ring_timeout": COUNT, "abandon_cap": PERCENT,
                         "kill_at": NON_NEGATIVE},
          ordered=[("ring_min", "ring_max")], one_in_all=["answer", "dead"])
    names = [f"pbx{n + 1}" for n in range(args.servers)]
    if args.kill and args.kill not in names:
        parser.error(f"--kill: {args.kill!r} is not one of the servers ({', '.join(names)})")
    logging.basicConfig(level=logging.ERROR)
    r = run(args)
    print(f"{args.servers} servers x {args.agents} agents, {args.hours:g} h, answer {args.answer:.0%}, "
          f"pacer {args.pacer}" + (f", {args.kill} killed at minute {args.kill_at:g}" if args.kill else ""))
    print("dials, answers, abandons: the dialer's counts; lost: lines closed as their server died; "
          "answered, abandoned, open: the attempts booked (open: in flight at the end)")
    print(f"{'server':<8} {'dials':>7} {'answers':>8} {'abandons':>9} {'lost':>5} {'answered':>9} "
          f"{'abandoned':>10} {'open':>5}")
    for name, c in r["servers"].items():
        booked = [r["by_server"].get((name, outcome), 0) for outcome in ("answered", "abandoned", None)]
        print(f"{name:<8} {c['dialled']:>7} {c['answered']:>8} {c['abandoned']:>9} {c['closed_lost']:>5} "
              + " ".join(f"{n:>{w}}" for n, w in zip(booked, (9, 10, 5))))
    print(f"decisions {r['decisions']}: p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms, max {r['max']:.1f} ms; "
          f"leads 'dialling' at the end {r['dialling']} (= open); wall {r['wall']:.0f} s")


if __name__ == "__main__":
    main()
