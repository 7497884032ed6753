"""The predictive dialer, simulated: the REAL dialer (agi.dialer.engine with the pacers of
agi.dialer.pacing, the hopper and rules of models/) against the PBX simulator over a real AMI
socket, on a fake clock that jumps from event to event — an 8-hour campaign runs in minutes.

Answered calls take the real PBX's path (``--path agi``, the default): the simulator runs the
dialplan's dialfunnel-outbound context and calls the real FastAGI server (in this process, on
SQLite) with the real ``outbound`` handler: AMD on the far side's audio (a person's short
greeting, a machine's long one) for as long as it listens, then a ready agent for up to 2 s
(else the abandon message), the agent's phone ringing ``--agent-ring`` s, and the
recording_done hangup handler. ``--path engine``: the old shortcut, the dialer connects the
answer itself at once (no AMD, no FastAGI).

World (every value a flag): N agents (talk lognormal, mean 150 s, or exponential or fixed;
wrap-up 20 s, fixed or lognormal), live answer rate 15% or 30% (or a profile over the day:
``--answer-profile 9:0.3,12:0.15,14:0.3``, local hour: rate from then on), answering machines 0%,
AMD listening at most ``--amd-time`` s, 20% failing numbers (unallocated / invalid: dead for
good; absent, 关机: retried later; failing in 1–3 s), ring-to-answer 5–25 s, ring timeout 25 s, abandon cap 3%; the rest no answer
(rings out), busy and congestion. Abandon: a live answer nobody was free for in the handler's
hold. Each scenario runs our predictive pacer, progressive 1:1 dialling, a reference
ADAPT_TAPERED pacer and the naive pacer.

    python bench/dialer_sim.py                      # every scenario, 8 hours
    python bench/dialer_sim.py --agents 20 --answer 0.3 --hours 2 --pacers predictive,adapt_tapered
    python bench/dialer_sim.py --agents 50 --answer-profile 9:0.3,12:0.15,14:0.3 --pacers predictive

Each run prints, beside the table, the dialer's decision time (p50/p99/max of a tick's pacing,
without the dialling itself), the most lines in flight, occupancy and the abandon rate per hour.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import functools
import logging
import math
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from unittest import mock
from zoneinfo import ZoneInfo
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select  # noqa: E402

from agi.ami.client import AMIClient  # noqa: E402
from agi.dialer import engine as dialer_engine  # noqa: E402
from agi.dialer.simulation import Driver, SimulatedAgents, start_with_ready_team  # noqa: E402
from agi.fastagi.server import FastAGIServer  # noqa: E402
from agi.handlers import amd, outbound, recording_done, registry  # noqa: E402
from agi.pbxsim.ami_scenarios import Scenario  # noqa: E402
from agi.pbxsim.ami_server import AMIServer  # noqa: E402
from agi.pbxsim.clock import FakeClock  # noqa: E402
from agi.dialer.process import EARLY_MEDIA_CONTEXT  # noqa: E402
from agi.early_media.hook import EarlyMediaHook  # noqa: E402
from agi.early_media.server import EarlyMediaServer  # noqa: E402
from agi.pbxsim.early_media import CARRIER_TIMING, EarlyMediaPlayer  # noqa: E402
from models.db import make_engine, make_sessionmaker  # noqa: E402
from models.dialer import campaigns  # noqa: E402
from models.migrate import upgrade  # noqa: E402
from models.org import users  # noqa: E402
from models.schema import AgentStateLog, Customer, DialAttempt  # noqa: E402
from models.schema.campaigns import DEAD_OUTCOMES  # noqa: E402
from models.setup import install_defaults  # noqa: E402
from recordings.store import RecordingStore  # noqa: E402

from bench.world_flags import (COUNT, NATURAL, NON_NEGATIVE, PERCENT, POSITIVE,  # noqa: E402
                               SHARE, check, floats, ints)

START = dt.datetime(2026, 11, 26, 1, 0, tzinfo=dt.timezone.utc)  # 09:00 in Shanghai
LOCAL = ZoneInfo("Asia/Shanghai")
PACERS = ("predictive", "progressive", "adapt_tapered", "naive")


@dataclasses.dataclass(frozen=True)
class World:
    talk_mean: float = 150.0
    talk_sigma: float = 0.8
    talk_dist: str = "lognormal"
    wrap: float = 20.0
    wrap_sigma: float = 0.0
    dead: float = 0.20
    machine: float = 0.0
    ring_min: float = 5.0
    ring_max: float = 25.0
    ring_timeout: int = 25
    abandon_cap: float = 3.0
    agent_ring: float = 1.0
    message_time: float = 3.0
    amd_time: float = amd.MAX_SECONDS
    answer_profile: str = ""
    path: str = "agi"

    def talk(self, rng: random.Random) -> float:
        if self.talk_dist == "fixed":
            return self.talk_mean
        if self.talk_dist == "exponential":
            return rng.expovariate(1.0 / self.talk_mean)
        mu = math.log(self.talk_mean) - self.talk_sigma ** 2 / 2
        return rng.lognormvariate(mu, self.talk_sigma)

    def wrap_time(self, seed: int, user_id: int, since: dt.datetime) -> float:
        if self.wrap_sigma <= 0:
            return self.wrap
        rng = random.Random(f"{seed}:{user_id}:{since.timestamp()}")
        return rng.lognormvariate(math.log(self.wrap) - self.wrap_sigma ** 2 / 2, self.wrap_sigma)

    def profile(self) -> list[tuple[float, float]]:
        """The answer-rate profile: (local hour, rate from then on), sorted; [] if none."""
        points = []
        for item in filter(None, self.answer_profile.split(",")):
            hour, rate = item.split(":")
            points.append((float(hour), float(rate)))
        return sorted(points)


def answer_at(profile: list[tuple[float, float]], when: dt.datetime) -> float:
    local = when.astimezone(LOCAL)
    hour = local.hour + local.minute / 60 + local.second / 3600
    rate = profile[0][1]
    for start, value in profile:
        if hour >= start:
            rate = value
    return rate


@dataclasses.dataclass
class DayScenario(Scenario):
    """The scenario whose live answer rate follows the world's profile by the clock's hour."""
    world: World | None = None
    clock: object = None

    def outcome_for(self, number, context, rng):
        self.rates = rates_for(answer_at(self.world.profile(), self.clock.now()), self.world)
        return super().outcome_for(number, context, rng)


def rates_for(answer: float, world: World) -> dict[str, float]:
    dead = world.dead
    rest = 1.0 - answer - world.machine - dead
    return {"answer": answer, "machine": world.machine,
            "unallocated": dead * 0.4, "absent": dead * 0.45, "invalid": dead * 0.15,
            "noanswer": rest * 0.65, "busy": rest * 0.28, "congestion": rest * 0.07}


def scenario(answer: float, seed: int, world: World, clock=None) -> Scenario:
    rates = rates_for(answer, world)
    fast_fail = {"setup_time": (1.0, 3.0)}
    answered = {"setup_time": 0.0, "ring_time": (world.ring_min, world.ring_max), "answer_delay": 0.0,
                "talk_time": world.talk, "agent_ring": world.agent_ring, "message_time": world.message_time}
    timing = {"answer": answered, "machine": answered,
              "unallocated": fast_fail, "absent": fast_fail, "invalid": fast_fail,
              "busy": {"setup_time": (2.0, 5.0)}, "congestion": {"setup_time": (1.0, 2.0)},
              "noanswer": {"setup_time": 0.0, "noanswer_wait": 120.0}}
    if world.profile():
        return DayScenario(seed=seed, rates=rates, timing=timing, world=world, clock=clock)
    return Scenario(seed=seed, rates=rates, timing=timing)


def make_world(url: str, agents: int, leads: int, clock, world: World) -> tuple:
    engine = make_engine(url)
    upgrade(engine)
    maker = make_sessionmaker(engine)
    hashed = users.hash_password("pw-" + uuid.uuid4().hex)  # one for every simulated account:
    with maker.begin() as s, mock.patch.object(users, "hash_password", lambda _: hashed):  # scrypt ≈ 0.1 s
        install_defaults(s)
        admin = users.create_user(s, "simadmin", "Sim Admin", "-", "admin", clock=clock)
        team = []
        for i in range(agents):
            user = users.create_user(s, f"agent{i:02d}", f"Agent {i:02d}", "-", "telemarketer", clock=clock)
            user.extension = str(8100 + i)
            team.append(user)
        s.flush()
        now = clock.now()
        rows = [dict(name=f"Sim customer {n:06d}", ownership="shared", stage="target",
                     phone=f"138{n:08d}", phone_e164=f"+86138{n:08d}", mobile=None, mobile_e164=None,
                     time_zone="Asia/Shanghai", created_at=now, updated_at=now,
                     contact_mark="not_contacted", tracking_mark="tracking", number_status="unknown",
                     do_not_call=False) for n in range(leads)]
        for start in range(0, len(rows), 5000):
            s.execute(insert(Customer.__table__), rows[start:start + 5000])   # Core: no ORM bookkeeping
        campaign = campaigns.create_campaign(s, admin, clock=clock, name="Simulation", mode="predictive",
                                             filter_stage="target", ring_timeout_s=world.ring_timeout,
                                             abandon_cap_pct=world.abandon_cap)
        start_with_ready_team(s, admin, campaign, team, clock=clock)
        ids = (campaign.id, [u.id for u in team])
    return engine, maker, ids


def run_one(agents: int, answer: float, pacer: str, hours: float, seed: int, world: World = World(),
            early_media: int = 0) -> dict:
    clock = FakeClock(START)
    tmp = Path(tempfile.mkdtemp(prefix="dialer-sim-"))
    url = f"sqlite:///{tmp}/sim.db"
    if world.profile():
        answer = min(rate for _, rate in world.profile())   # the leads a day at the lowest rate needs
    leads = int(agents * hours * 3600 / 170 / max(answer, 0.05) * 1.3) + 500
    engine, maker, (campaign_id, team) = make_world(url, agents, leads, clock, world)
    agi = None
    fastagi = None
    if world.path == "agi":
        spool = tmp / "monitor"
        spool.mkdir()
        agi = FastAGIServer(registry, maker, port=0, max_calls=4 * agents + 16).start()
        fastagi = ("127.0.0.1", agi.port)
        recording_done.configure(RecordingStore(tmp / "recordings", spool))
    world_scenario = scenario(answer, seed, world, clock)
    if early_media:
        world_scenario.timing.update(CARRIER_TIMING)
    server = AMIServer(scenario=world_scenario, clock=clock, fastagi=fastagi,
                       recordings_incoming=fastagi and spool, write_recordings=False).start()
    if agi:
        outbound.configure(clock=clock, spool_dir=spool, sleep=server.scheduler.sleep,
                           detect=functools.partial(amd.detect, max_seconds=world.amd_time))
    ami = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret", events="call,user",
                    event_filter=dialer_engine.EVENTS, reconnect=False)   # the others (3 in 4) stay in the PBX
    hearing = Hearing(server, ami, seed, early_media) if early_media else None
    dialer = dialer_engine.Dialer(maker, ami, clock=clock, dialer_id="sim", trunk="Local/{number}@sim-out",
                                  route_answers=world.path == "engine", pacer_mode=pacer,
                                  **(hearing.dialer_options() if hearing else {}))
    dialer.attach()
    dialer.decision_seconds = []
    most_lines = [0]
    ticks = dialer.tick

    def tick():
        most_lines[0] = max(most_lines[0], len(dialer.lines))
        ticks()
    dialer.tick = tick
    wrap = functools.partial(world.wrap_time, seed) if world.wrap_sigma > 0 else world.wrap
    team_sim = SimulatedAgents(maker, clock, campaign_id, wrap)
    driver = (HearingDriver(dialer, server, ami, clock, team_sim) if hearing
              else Driver(dialer, server, ami, clock, team_sim, quiet_barriers=True))
    if hearing:
        driver.hearing = hearing
    ami.connect()
    wall = time.perf_counter()
    try:
        dialer.tick()
        driver.run_until(START.timestamp() + hours * 3600)
    finally:
        ami.close()
        server.stop()
        if agi:
            agi.shutdown(grace=5)
        if hearing:
            hearing.stop()
    wall = time.perf_counter() - wall
    result = measure(maker, campaign_id, hours, agents)
    if hearing:
        result["early_media"] = hearing.report(maker, campaign_id)
    ms = sorted(1000.0 * t for t in dialer.decision_seconds) or [0.0]
    result.update(agents=agents, answer=answer, pacer=pacer, wall=wall, steps=driver.steps, leads=leads,
                  cap=world.abandon_cap, decisions=len(dialer.decision_seconds),
                  decision_p50=ms[len(ms) // 2], decision_p99=ms[min(len(ms) - 1, int(len(ms) * 0.99))],
                  decision_max=ms[-1], most_lines=most_lines[0])
    engine.dispose()
    return result


def measure(maker, campaign_id: int, hours: float, agents: int) -> dict:
    end = START + dt.timedelta(hours=hours)
    with maker() as s:
        attempts = s.scalar(select(func.count()).select_from(DialAttempt)
                            .where(DialAttempt.campaign_id == campaign_id))
        by_outcome = dict(s.execute(select(DialAttempt.outcome, func.count())
                                    .where(DialAttempt.campaign_id == campaign_id)
                                    .group_by(DialAttempt.outcome)).all())
        talk = s.scalar(select(func.coalesce(func.sum(DialAttempt.talk_seconds), 0.0))
                        .where(DialAttempt.campaign_id == campaign_id, DialAttempt.outcome == "answered"))
        spans = s.execute(select(AgentStateLog.state, AgentStateLog.started_at, AgentStateLog.ended_at)
                          .where(AgentStateLog.campaign_id == campaign_id)).all()
        live = s.execute(select(DialAttempt.outcome, DialAttempt.started_at)
                         .where(DialAttempt.campaign_id == campaign_id,
                                DialAttempt.outcome.in_(("answered", "abandoned")))).all()
    per_hour = [[0, 0] for _ in range(max(1, math.ceil(hours)))]   # [answered, abandoned]
    for outcome, started in live:
        hour = min(len(per_hour) - 1, int((started - START).total_seconds() // 3600))
        per_hour[hour][outcome == "abandoned"] += 1
    in_state: dict[str, float] = {}
    for state, started, ended in spans:
        stop = min(ended or end, end)
        in_state[state] = in_state.get(state, 0.0) + max(0.0, (stop - started).total_seconds())
    logged = sum(v for k, v in in_state.items() if k != "logged_out") or 1.0
    answered = by_outcome.get("answered", 0)
    abandoned = by_outcome.get("abandoned", 0)
    return {
        "talk_min_per_agent_hour": talk / 60.0 / (agents * hours),
        "abandon_pct": 100.0 * abandoned / max(1, answered + abandoned),
        "dials_per_hour": attempts / hours,
        "idle_pct": 100.0 * in_state.get("ready", 0.0) / logged,
        "on_call_pct": 100.0 * in_state.get("on_call", 0.0) / logged,
        "occupancy_pct": 100.0 * (in_state.get("on_call", 0.0) + in_state.get("wrap_up", 0.0)) / logged,
        "abandon_by_hour": [100.0 * ab / max(1, an + ab) for an, ab in per_hour],
        "answered": answered, "abandoned": abandoned, "attempts": attempts,
        "machines": by_outcome.get("machine", 0),
        "dead": sum(by_outcome.get(k, 0) for k in DEAD_OUTCOMES),     # 空号, 错号: never again
        "absent": by_outcome.get("absent", 0),                         # 关机: retried later
        "open": by_outcome.get(None, 0),
    }


def _row(r: dict) -> str:
    return (f"{r['agents']:>6} {r['answer']:>6.0%} {r['pacer']:<14} {r['talk_min_per_agent_hour']:>16.1f} "
            f"{r['abandon_pct']:>9.2f} {r['cap']:>5.1f} {r['dials_per_hour']:>8.0f} {r['idle_pct']:>7.1f} "
            f"{r['on_call_pct']:>9.1f} {r['answered']:>8} {r['abandoned']:>9} {r['machines']:>8} "
            f"{r['wall']:>7.0f}\n"
            f"{'':>6} decisions {r['decisions']}: p50 {r['decision_p50']:.2f} ms, p99 {r['decision_p99']:.2f} ms, "
            f"max {r['decision_max']:.1f} ms; most lines in flight {r['most_lines']}; "
            f"occupancy {r['occupancy_pct']:.1f}%; abandon % by hour "
            + " ".join(f"{v:.1f}" for v in r['abandon_by_hour'])
            + (early_media_lines(r["early_media"]) if "early_media" in r else ""))


# -- early media (--early-media) -------------------------------------------------------------

class Hearing:
    """The carrier's early media in the simulation: the simulator's player (a few recordings of
    each kind, ``STEP`` s of audio per tick of the fake clock) streams to the dialer's real
    listener and classifier; the hook hangs up what they recognise. ``settle()`` waits until the
    listener has classified all audio sent so far (and hung up what it heard), so the fake clock
    never runs ahead of it."""

    STEP = 1.0
    RECORDINGS = 4                   # per kind (a carrier plays the same recording each time)
    WAIT = 30.0                      # the most wall time to wait for the listener at one step

    def __init__(self, server, ami, seed: int, recordings: int = RECORDINGS):
        self.hook = EarlyMediaHook(ami)
        self.sent: dict[str, int] = {}
        self.fed: dict[str, int] = {}
        self.closed: set[str] = set()               # the listener is done with these calls
        self.verdicts: dict[str, object] = {}       # ChannelId -> final Verdict
        self.lags = 0                                # steps the listener did not catch up with
        self._cv = threading.Condition()
        self.listener = EarlyMediaServer(self._verdict, on_end=self._end, on_audio=self._audio).start()
        self.player = EarlyMediaPlayer(self.listener.address, step=self.STEP, seed=seed,
                                       variants=recordings, on_sent=self._sent)
        server.early_media = self.player
        self.server = server

    def dialer_options(self) -> dict:
        return {"early_media": self.hook, "context": EARLY_MEDIA_CONTEXT}

    def _sent(self, channel_id, size):
        with self._cv:
            if channel_id not in self.closed:       # audio sent after the listener hung up
                self.sent[channel_id] = size

    def _audio(self, channel_id, size):
        with self._cv:
            self.fed[channel_id] = size
            self._cv.notify_all()

    def _verdict(self, channel_id, verdict):
        self.hook(channel_id, verdict)                # hung up before the clock moves on
        self._done(channel_id, verdict)

    def _end(self, channel_id, verdict):
        self._done(channel_id, None)

    def _done(self, channel_id, verdict):
        with self._cv:
            if verdict is not None:
                self.verdicts[channel_id] = verdict
            self.closed.add(channel_id)
            self.sent.pop(channel_id, None)
            self.fed.pop(channel_id, None)
            self._cv.notify_all()

    def _caught_up(self) -> bool:
        return all(self.fed.get(c, 0) >= size for c, size in self.sent.items())

    def settle(self) -> None:
        with self._cv:
            if not self._cv.wait_for(self._caught_up, timeout=self.WAIT):
                self.lags += 1

    def stop(self) -> None:
        self.listener.stop()

    def report(self, maker, campaign_id: int) -> dict:
        """Per status: attempts ended by an announcement / by the carrier's cause; line-seconds
        the announcements saved (the carrier would have cleared the call at its setup time);
        the decision's delay after the announcement's first word; live lines ended."""
        with maker() as s:
            rows = s.execute(select(DialAttempt.channel_id, DialAttempt.outcome, DialAttempt.started_at,
                                    DialAttempt.ended_at)
                             .where(DialAttempt.campaign_id == campaign_id,
                                    DialAttempt.ended_at.is_not(None))).all()
        played = dict(self.player.played)
        by_status: dict[str, list[int]] = {}
        saved, live_ended = 0.0, 0
        delays: dict[str, list[float]] = {}          # kind played -> s after its first word
        for channel_id, outcome, started, ended in rows:
            verdict = self.verdicts.get(channel_id)
            kind = played.get(channel_id)
            counts = by_status.setdefault(outcome, [0, 0])
            counts[verdict is None] += 1
            if verdict is None or kind is None:
                continue
            if kind == "ringback":
                live_ended += 1
            call = self.server.calls.get(channel_id)
            if call is not None and "setup_time" in call.durations:
                saved += max(0.0, call.durations["setup_time"] - (ended - started).total_seconds())
            speech_at = self.player.audio(kind, channel_id).speech_at_ms
            if speech_at is not None:
                delays.setdefault(kind, []).append((verdict.decided_after_ms - speech_at) / 1000.0)
        return dict(by_status=by_status, line_seconds_saved=saved, delays=delays,
                    live_ended=live_ended, played=len(played), lags=self.lags)


class HearingDriver(Driver):
    """The Driver, waiting for the early-media listener after the simulator's scheduler."""
    hearing: Hearing

    def _settle(self) -> None:
        self.barrier.wait()
        self.server.scheduler.settle()
        self.hearing.settle()
        self.barrier.wait()
        self.dialer.step()


def early_media_lines(em: dict) -> str:
    statuses = ", ".join(f"{status} {a}/{c}" for status, (a, c) in sorted(
        em["by_status"].items(), key=lambda item: str(item[0])))
    timing = []
    for kind, delays in sorted(em["delays"].items()):
        delays.sort()
        timing.append(f"{kind} {len(delays)}: {sum(d <= 3.0 for d in delays) / len(delays):.0%} "
                      f"<= 3 s, median {delays[len(delays) // 2]:.2f} s, max {delays[-1]:.2f} s")
    return (f"\n{'':>6} early media: {em['played']} calls played; status by announcement/by cause: "
            f"{statuses}; {em['line_seconds_saved'] / 3600:.2f} line-hours saved; live lines ended "
            f"{em['live_ended']}; listener behind the clock at {em['lags']} steps"
            f"\n{'':>6} decided after the first word: " + ("; ".join(timing) or "none"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=ints, default="5,20,50", help="one run each (comma-separated)")
    parser.add_argument("--answer", type=floats, default="0.15,0.30",
                        help="live answer shares, one run each (comma-separated)")
    parser.add_argument("--pacers", default=",".join(PACERS))
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1, help="scenarios run in parallel processes")
    defaults = World()
    world_flags = {  # every world parameter: flag, help
        "talk_mean": "mean talk time (s, lognormal)", "talk_sigma": "sigma of the talk time's log",
        "wrap": "agents' wrap-up (s)", "dead": "share of failing numbers (空号/错号 dead for good, 关机 retried)",
        "machine": "share of answering machines (AMD hears them)",
        "ring_min": "shortest ring before an answer (s)", "ring_max": "longest ring before an answer (s)",
        "ring_timeout": "the campaign's ring timeout (s)", "abandon_cap": "the campaign's abandon cap (%%)",
        "agent_ring": "seconds an agent's phone rings before it answers",
        "message_time": "length of the abandon / machine message (s)",
        "talk_dist": "talk time distribution: lognormal, exponential or fixed",
        "wrap_sigma": "sigma of the wrap-up's log (lognormal around --wrap; 0: fixed)",
        "amd_time": "the most audio AMD hears before it decides (s)",
        "answer_profile": "live answer rate over the day, local hour:rate, e.g. 9:0.3,12:0.15,14:0.3 "
                          "(replaces --answer)"}
    for name, text in world_flags.items():
        value = getattr(defaults, name)
        parser.add_argument("--" + name.replace("_", "-"), type=type(value), default=value,
                            help=f"{text} (default {value})")
    parser.add_argument("--path", choices=("agi", "engine"), default=defaults.path,
                        help="answered calls through the dialplan and the FastAGI handler (agi), or "
                             "connected by the dialer itself (engine, the old shortcut)")
    parser.add_argument("--early-media", type=int, nargs="?", const=Hearing.RECORDINGS, default=0,
                        metavar="RECORDINGS",
                        help="the carrier announces its failures (空号, 关机, 忙; ringback on unanswered "
                             "lines) before it clears them, RECORDINGS recordings of each kind (default "
                             f"{Hearing.RECORDINGS}), and the dialer listens (the real listener and "
                             "classifier): what ended by announcement, line-seconds saved, the decision's "
                             "delay. Off by default: the classifier costs CPU on every failing call")
    args = parser.parse_args()
    check(parser, args, {"agents": COUNT, "answer": SHARE, "hours": POSITIVE, "jobs": COUNT,
                         "talk_mean": POSITIVE, "talk_sigma": NON_NEGATIVE, "wrap": NON_NEGATIVE,
                         "dead": SHARE, "machine": SHARE, "ring_min": NON_NEGATIVE,
                         "ring_max": NON_NEGATIVE, "ring_timeout": COUNT, "abandon_cap": PERCENT,
                         "agent_ring": NON_NEGATIVE, "message_time": NON_NEGATIVE,
                         "wrap_sigma": NON_NEGATIVE, "amd_time": POSITIVE, "early_media": NATURAL},
          ordered=[("ring_min", "ring_max")])
    if max(args.answer) + args.dead + args.machine > 1:
        parser.error("--answer, --dead and --machine add up to more than the whole (1)")
    unknown = [p for p in args.pacers.split(",") if p not in PACERS]
    if unknown:
        parser.error(f"--pacers: unknown {', '.join(unknown)} (of {', '.join(PACERS)})")
    logging.basicConfig(level=logging.ERROR)
    world = World(**{name: getattr(args, name) for name in [*world_flags, "path"]})
    if world.talk_dist not in ("lognormal", "exponential", "fixed"):
        parser.error(f"--talk-dist: lognormal, exponential or fixed, not {world.talk_dist!r}")
    try:
        answers = [0.0] if world.profile() else args.answer
    except ValueError:
        parser.error(f"--answer-profile: hour:rate,hour:rate..., not {world.answer_profile!r}")
    runs = [(agents, answer, pacer, args.hours, args.seed, world, args.early_media)
            for agents in args.agents for answer in answers
            for pacer in args.pacers.split(",")]
    print(f"dialer simulation: {args.hours:g} h campaigns, seed {args.seed}, {args.jobs} job(s), "
          f"load {os.getloadavg()[0]:.1f}, {world}"
          + (", early media heard" if args.early_media else ""))
    print(f"{'agents':>6} {'answer':>6} {'pacer':<14} {'talk min/agent-h':>16} {'abandon %':>9} {'cap %':>5} "
          f"{'dials/h':>8} {'idle %':>7} {'on-call %':>9} {'answered':>8} {'abandoned':>9} {'machines':>8} "
          f"{'wall s':>7}", flush=True)
    if args.jobs <= 1:
        for run in runs:
            print(_row(run_one(*run)), flush=True)
        return
    with ProcessPoolExecutor(args.jobs) as pool:
        results = {i: f for i, f in enumerate(pool.submit(run_one, *run) for run in runs)}
        for i in sorted(results):  # in the table's order
            print(_row(results[i].result()), flush=True)


if __name__ == "__main__":
    main()
