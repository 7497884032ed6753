"""A voice campaign (T9), simulated: a notice campaign with no agents run by the REAL dialer
(agi.dialer.engine, its line pacing, the hopper and rules of models/) against the PBX
simulator over a real AMI socket, with the real FastAGI server (in this process) answering the
simulator's dialfunnel-outbound dialplan: AGI(outbound) with AMD on the far side's audio, then
AGI(ivr?flow=...) for a person (the notice: one prompt of ``--talk`` s, then the end) or the
machine's message after its beep, and the recording_done hangup handler. The clock is fake and
jumps from event to event: hours of calling run in minutes.

Figures:
  completion     simulated time from the start until the campaign finished (every number
                 dialled; with --retries, retried too)
  occupancy      line occupancy while numbers remain never dialled: the time-integral of the
                 lines up / (the line limit x that time). Goal: >= 90%.
  flows          people in the flow at once over that time (mean; answered calls from the
                 answer: AMD, then the notice)
  FastAGI        the server's added latency per AGI command (from the simulated Asterisk's
                 reply to the server's next command, wall clock) over every AGI of the run, and
                 over the ivr flows alone: p50 / p99 / max ms

World (every value a flag): numbers, line limits (one run each), answer rate, machine share,
dead share (空号: fails in 1-3 s), busy share, the rest no answer (rings out the ring timeout),
ring before an answer, talk (the notice's length), machine message length and action.

    python bench/voice_campaign.py                          # 10,000 numbers over 60 lines
    python bench/voice_campaign.py --numbers 2000 --lines 30,60,120 --answer 0.6
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select  # noqa: E402

from agi.ami.client import AMIClient  # noqa: E402
from agi.dialer.engine import Dialer  # noqa: E402
from agi.dialer.simulation import Driver  # noqa: E402
from agi.fastagi.dispatch import Registry  # noqa: E402
from agi.fastagi.server import FastAGIServer  # noqa: E402
from agi.handlers import outbound, recording_done  # noqa: E402
from agi.handlers.ivr import make_ivr_handler  # noqa: E402
from agi.pbxsim.ami_scenarios import Scenario  # noqa: E402
from agi.pbxsim.ami_server import AMIServer  # noqa: E402
from agi.pbxsim.clock import FakeClock  # noqa: E402
from ivr_flows.flows import DEFAULT_DIR  # noqa: E402
from models.db import make_engine, make_sessionmaker  # noqa: E402
from models.dialer import campaigns  # noqa: E402
from models.dialer.campaigns import RETRYABLE_OUTCOMES  # noqa: E402
from models.migrate import upgrade  # noqa: E402
from models.org.users import create_user  # noqa: E402
from models.schema import Campaign, Customer, DialAttempt, DoNotCall  # noqa: E402
from models.setup import install_defaults  # noqa: E402
from recordings.store import RecordingStore  # noqa: E402

from bench.world_flags import (COUNT, NATURAL, NON_NEGATIVE, POSITIVE, SHARE,  # noqa: E402
                               check, ints)

START = dt.datetime(2026, 11, 26, 1, 0, tzinfo=dt.timezone.utc)  # 09:00 in Shanghai
FLOW = "bench_notice"
MACHINE_ACTIONS = ("message", "hangup", "retry")


@dataclasses.dataclass(frozen=True)
class World:
    numbers: int = 10_000
    answer: float = 0.55
    machine: float = 0.10
    dead: float = 0.08
    busy: float = 0.07
    ring_min: float = 3.0
    ring_max: float = 15.0
    ring_timeout: int = 25
    talk: float = 30.0
    message_time: float = 10.0
    machine_action: str = "message"
    retries: int = 0
    hours: float = 12.0
    opt_out: float = 0.0


def scenario(world: World, seed: int) -> Scenario:
    rest = max(0.0, 1.0 - world.answer - world.machine - world.dead - world.busy)
    rates = {"answer": world.answer, "machine": world.machine, "unallocated": world.dead,
             "busy": world.busy, "noanswer": rest}
    answered = {"setup_time": 0.0, "ring_time": (world.ring_min, world.ring_max),
                "answer_delay": 0.0, "prompt_time": world.talk, "message_time": world.message_time}
    timing = {"answer": answered, "machine": answered,
              "unallocated": {"setup_time": (1.0, 3.0)}, "busy": {"setup_time": (2.0, 5.0)},
              "noanswer": {"setup_time": 0.0, "noanswer_wait": 120.0}}
    keys = [(world.opt_out, ["9"]), (1.0 - world.opt_out, [])] if world.opt_out > 0 else []
    return Scenario(seed=seed, rates=rates, timing=timing, outbound_key_choices=keys)


def make_world(url: str, lines: int, clock, world: World) -> tuple:
    engine = make_engine(url)
    upgrade(engine)
    maker = make_sessionmaker(engine)
    with maker.begin() as s:
        install_defaults(s)
        admin = create_user(s, "voiceadmin", "Voice Admin", "pw-" + uuid.uuid4().hex, "admin",
                            clock=clock)
        now = clock.now()
        rows = [dict(name=f"Notice customer {n:06d}", ownership="shared", stage="target",
                     phone=f"138{n:08d}", phone_e164=f"+86138{n:08d}", mobile=None,
                     mobile_e164=None, time_zone="Asia/Shanghai", created_at=now, updated_at=now,
                     contact_mark="not_contacted", tracking_mark="tracking",
                     number_status="unknown", do_not_call=False) for n in range(world.numbers)]
        for start in range(0, len(rows), 5000):
            s.execute(insert(Customer), rows[start:start + 5000])
        retry = {o: {"max": world.retries} for o in RETRYABLE_OUTCOMES}
        campaign = campaigns.create_campaign(
            s, admin, clock=clock, name="Notice", mode="voice", ivr_flow=FLOW, max_lines=lines,
            filter_stage="target", ring_timeout_s=world.ring_timeout, retry_rules=retry,
            machine_action=world.machine_action, machine_message="notice-machine")
        campaigns.change_status(s, admin, campaign.id, "start", clock=clock)
        campaign_id = campaign.id
    return engine, maker, campaign_id


def flows_dir(tmp: Path) -> Path:
    folder = tmp / "flows"
    folder.mkdir()
    shutil.copy(DEFAULT_DIR / "prompts.yaml", folder / "prompts.yaml")
    (folder / f"{FLOW}.yaml").write_text(
        "outbound: true\nopt_out: {key: 9, prompt: optout-confirmed}\n"
        "start: say\nsteps:\n  say:\n    prompt: closed\n    next: done\n"
        "  done:\n    end: COMPLETED\n", encoding="utf-8")
    return folder


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


def run_one(lines: int, trunk_lines: int, world: World, seed: int, url: str | None) -> dict:
    clock = FakeClock(START)
    tmp = Path(tempfile.mkdtemp(prefix="voice-bench-"))
    engine, maker, campaign_id = make_world(url or f"sqlite:///{tmp}/voice.db", lines, clock, world)
    spool = tmp / "monitor"
    spool.mkdir()
    registry = Registry()
    registry.register("outbound", outbound.outbound)
    registry.register("recording_done", recording_done.recording_done)
    registry.register("ivr", make_ivr_handler(flows_dir=flows_dir(tmp), clock=clock))
    agi = FastAGIServer(registry, maker, port=0, max_calls=4 * lines + 16).start()
    recording_done.configure(RecordingStore(tmp / "recordings", spool))
    server = AMIServer(scenario=scenario(world, seed), clock=clock, fastagi=("127.0.0.1", agi.port),
                       recordings_incoming=spool, write_recordings=False).start()
    gaps: dict[str, list[float]] = {}
    server.on_agi = lambda script, result: gaps.setdefault(script.split("?")[0], []).extend(
        result.gaps[1:])   # the first is the server reading the env block: no command before it
    outbound.configure(clock=clock, spool_dir=spool, sleep=server.scheduler.sleep)
    ami = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret",
                    events="call,user", reconnect=False)
    dialer = Dialer(maker, ami, clock=clock, dialer_id="voice-bench", trunk="Local/{number}@out",
                    trunk_lines=trunk_lines)
    dialer.attach()
    driver = Driver(dialer, server, ami, clock)
    ami.connect()
    wall = time.perf_counter()
    deadline = START.timestamp() + world.hours * 3600
    most = 0
    try:
        dialer.tick()
        t = START.timestamp()
        while t < deadline:
            t += 60.0
            driver.run_until(t)
            most = max(most, len(dialer.lines))
            with maker() as s:
                status = s.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
            if status == "finished":
                break
    finally:
        ami.close()
        server.stop()
        agi.shutdown(grace=5)
        outbound.configure(clock=outbound.SYSTEM_CLOCK, spool_dir=None, sleep=outbound.time.sleep)
    wall = time.perf_counter() - wall
    result = measure(maker, campaign_id, lines)
    every = [g for values in gaps.values() for g in values]
    result.update(lines=lines, trunk_lines=trunk_lines, wall=wall, most_lines=most,
                  agi_p50=pct(every, 0.5), agi_p99=pct(every, 0.99), agi_max=pct(every, 1.0),
                  ivr_p99=pct(gaps.get("ivr", []), 0.99), agi_commands=len(every))
    engine.dispose()
    shutil.rmtree(tmp, ignore_errors=True)
    return result


def measure(maker, campaign_id: int, lines: int) -> dict:
    with maker() as s:
        rows = s.execute(select(DialAttempt.lead_id, DialAttempt.started_at, DialAttempt.ended_at,
                                DialAttempt.outcome, DialAttempt.answered_at)
                         .where(DialAttempt.campaign_id == campaign_id)
                         .order_by(DialAttempt.started_at)).all()
        by_outcome = dict(s.execute(select(DialAttempt.outcome, func.count())
                                    .where(DialAttempt.campaign_id == campaign_id)
                                    .group_by(DialAttempt.outcome)).all())
        opted_out = s.scalar(select(func.count()).select_from(DoNotCall))
    t0 = START.timestamp()
    first_dial: dict[int, float] = {}
    for lead_id, started, *_ in rows:
        first_dial.setdefault(lead_id, started.timestamp())
    last_fresh = max(first_dial.values())          # the last number dialled the first time

    def up_until_last_fresh(since, ended):
        return max(0.0, min(ended.timestamp() if ended else last_fresh, last_fresh) - since.timestamp())
    ends = [e.timestamp() for _l, _s, e, *_ in rows if e is not None]
    done = max(ends) if ends else t0
    busy = sum(up_until_last_fresh(s, e) for _l, s, e, *_ in rows)
    talking = sum(up_until_last_fresh(a, e) for _l, _s, e, o, a in rows
                  if o == "answered" and a is not None)
    span = max(1e-9, last_fresh - t0)
    line_seconds = sum((e.timestamp() - s.timestamp()) for _l, s, e, *_ in rows if e is not None)
    return dict(attempts=len(rows), numbers=len(first_dial), completion_min=(done - t0) / 60.0,
                first_pass_min=span / 60.0, occupancy=100.0 * busy / (lines * span),
                flows=talking / span,     # people in the flow at once (AMD, then the notice)
                line_minutes=line_seconds / 60.0, answered=by_outcome.get("answered", 0),
                machine=by_outcome.get("machine", 0), open=by_outcome.get(None, 0),
                opted_out=opted_out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=ints, default="60",
                        help="the campaign's line limits, one run each (comma-separated)")
    parser.add_argument("--trunk-lines", type=int, default=0,
                        help="the trunk's limit (dialer_trunk_lines; 0: none)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db-url", default=None, help="an empty database (default: SQLite in a temp dir)")
    defaults = World()
    flags = {"numbers": "numbers to call", "answer": "share answered by a person",
             "machine": "share answered by a machine", "dead": "share of 空号 (fail in 1-3 s)",
             "busy": "share busy (the rest ring out: no answer)",
             "ring_min": "shortest ring before an answer (s)",
             "ring_max": "longest ring before an answer (s)",
             "ring_timeout": "the campaign's ring timeout (s)",
             "talk": "the notice's length (s)", "message_time": "the machine message's length (s)",
             "machine_action": "message | hangup | retry",
             "retries": "retries per outcome (busy, no answer...)",
             "hours": "the longest simulated time",
             "opt_out": "share of the people answering who key 9 (do-not-call)"}
    for name, text in flags.items():
        value = getattr(defaults, name)
        parser.add_argument("--" + name.replace("_", "-"), type=type(value), default=value,
                            help=f"{text} (default {value})",
                            choices=MACHINE_ACTIONS if name == "machine_action" else None)
    args = parser.parse_args()
    check(parser, args, {"lines": COUNT, "trunk_lines": NATURAL, "numbers": COUNT,
                         "answer": SHARE, "machine": SHARE, "dead": SHARE, "busy": SHARE,
                         "opt_out": SHARE, "ring_min": NON_NEGATIVE, "ring_max": NON_NEGATIVE,
                         "ring_timeout": COUNT, "talk": POSITIVE, "message_time": NON_NEGATIVE,
                         "retries": NATURAL, "hours": POSITIVE},
          ordered=[("ring_min", "ring_max")], one_in_all=["answer", "machine", "dead", "busy"])
    logging.basicConfig(level=logging.ERROR)
    world = World(**{name: getattr(args, name) for name in flags})
    print(f"voice campaign simulation: seed {args.seed}, load {os.getloadavg()[0]:.1f}, {world}")
    print(f"{'lines':>5} {'trunk':>5} {'numbers':>7} {'calls':>6} {'first pass':>10} {'done':>7} "
          f"{'occupancy':>9} {'most':>4} {'flows':>5} {'answered':>8} {'machine':>7} {'line-min':>8} "
          f"{'agi p50':>7} {'p99':>6} {'max':>7} {'ivr p99':>7} {'cmds':>7} {'opt-out':>7} {'wall s':>6}",
          flush=True)
    for lines in args.lines:
        r = run_one(lines, args.trunk_lines, world, args.seed, args.db_url)
        print(f"{r['lines']:>5} {r['trunk_lines'] or '-':>5} {r['numbers']:>7} {r['attempts']:>6} "
              f"{r['first_pass_min']:>8.1f} m {r['completion_min']:>5.1f} m {r['occupancy']:>8.1f}% "
              f"{r['most_lines']:>4} {r['flows']:>5.1f} {r['answered']:>8} {r['machine']:>7} {r['line_minutes']:>8.0f} "
              f"{r['agi_p50']:>7.2f} {r['agi_p99']:>6.2f} {r['agi_max']:>7.1f} {r['ivr_p99']:>7.2f} "
              f"{r['agi_commands']:>7} {r['opted_out']:>7} {r['wall']:>6.0f}", flush=True)


if __name__ == "__main__":
    main()
