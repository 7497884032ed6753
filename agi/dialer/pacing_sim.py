"""A model-level simulation of an outbound campaign that drives any Pacer on simulated time.

Not the dialer: no database, no AMI; a seeded discrete-event model of agents and lines for
tuning and testing pacers (bench/pacing_model.py prints it; bench/dialer_sim.py runs the real
dialer against the PBX simulator). The engine's contract is kept: lines_to_launch once a second
and whenever an agent becomes ready; a live answer goes to the longest-ready agent at once, or
waits up to `hold` seconds for one (first come, first served), else it is abandoned.
"""
from __future__ import annotations

import heapq
import math
import random
import time
from collections import deque
from dataclasses import dataclass

from agi.dialer.pacing import AgentView, Snapshot

START = 1_800_000_000.0
TICK, RESULT, AMD_END, HOLD_END, TALK_END, WRAP_END = range(6)


@dataclass(frozen=True)
class World:
    agents: int = 20
    answer: float = 0.30          # share of dials a person answers
    dead: float = 0.20            # dead numbers, failing in 1-3 s
    hours: float = 8.0
    talk_mean: float = 150.0      # lognormal
    talk_sigma: float = 0.8       # of log(talk)
    wrap: float = 20.0
    ring: tuple[float, float] = (5.0, 25.0)   # ring-to-answer, uniform
    ring_timeout: float = 25.0
    hold: float = 2.0
    abandon_cap: float = 0.03
    seed: int = 1
    amd: float = 0.0              # seconds from the answer until the call asks for an agent
    start_hour: float = 9.0       # local clock hour of the start (START is on an hour boundary)
    answer_profile: tuple[tuple[float, float], ...] = ()   # (local hour, answer rate from then on)

    def answer_at(self, hour: float) -> float:
        """The answer rate at a local clock hour: the profile's last point at or before it."""
        rate = self.answer_profile[0][1] if self.answer_profile else self.answer
        for start, value in self.answer_profile:
            if hour >= start:
                rate = value
        return rate


def parse_profile(text: str) -> tuple[tuple[float, float], ...]:
    """'9:0.3,12:0.1,13.5:0.3' -> ((9.0, 0.3), (12.0, 0.1), (13.5, 0.3)) (bench/dialer_sim.py's
    syntax; hours may be decimal or h:mm-free decimals)."""
    points = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        hour, sep, rate = item.partition(":")
        if not sep:
            raise ValueError(f"answer profile: hour:rate, not {item!r}")
        value = float(rate)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"answer profile: a rate is between 0 and 1, not {rate!r}")
        points.append((float(hour), value))
    return tuple(sorted(points))


def draw_outcome(rng: random.Random, world: World, answer: float | None = None) -> tuple[str, float]:
    """(kind, seconds from dial to result). The non-answered, non-dead rest: 65% no answer
    (rings out), 28% busy, 7% congestion, as in bench/dialer_sim.py."""
    answer = world.answer if answer is None else answer
    u = rng.random()
    if u < answer:
        ring = rng.uniform(*world.ring)
        return ("live", ring) if ring <= world.ring_timeout else ("noanswer", world.ring_timeout)
    if u < answer + world.dead:
        return "dead", rng.uniform(1.0, 3.0)
    v = rng.random()
    if v < 0.65:
        return "noanswer", world.ring_timeout
    if v < 0.93:
        return "busy", rng.uniform(2.0, 5.0)
    return "congestion", rng.uniform(1.0, 2.0)


def simulate(pacer, world: World) -> dict:
    rng = random.Random(world.seed)
    mu = math.log(world.talk_mean) - world.talk_sigma ** 2 / 2
    end = START + world.hours * 3600.0
    n = world.agents
    state = ["ready"] * n
    since = [START] * n
    ready: deque[int] = deque(range(n))
    lines: dict[int, float] = {}
    in_amd: set[int] = set()
    waiting: deque[tuple[int, float]] = deque()   # past AMD, asking for an agent
    events: list = []
    seq = 0
    stats = dict(dials=0, lives=0, abandons=0, talk=0.0, idle=0.0, decisions=0, decide_s=0.0, decide_max=0.0)
    slots = max(1, math.ceil(world.hours - 1e-9))
    hourly = [dict(lives=0, abandons=0, talk=0.0, dials=0) for _ in range(slots)]

    def slot(t: float) -> dict:
        return hourly[min(slots - 1, int((t - START) // 3600.0))]

    def add_talk(start: float, stop: float) -> None:
        stop = min(stop, end)
        while start < stop:
            edge = min(stop, START + (int((start - START) // 3600.0) + 1) * 3600.0)
            slot(start)["talk"] += edge - start
            start = edge

    def push(t: float, kind: int, data: int) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, seq, kind, data))

    def set_state(agent: int, new: str, now: float) -> None:
        if state[agent] == "ready":
            stats["idle"] += min(now, end) - min(since[agent], end)
        state[agent], since[agent] = new, now

    def connect(agent: int, now: float, answered: float) -> None:
        set_state(agent, "on_call", now)
        talk = rng.lognormvariate(mu, world.talk_sigma)
        stats["talk"] += max(0.0, min(now + talk, end) - now)
        add_talk(now, now + talk)
        push(now + talk, TALK_END, agent)
        pacer.on_connected(now, now - answered)

    def decide(now: float) -> None:
        if now >= end:
            return
        snap = Snapshot(now=now, agents=tuple(AgentView(state[i], now - since[i]) for i in range(n)),
                        lines=tuple(now - t for t in lines.values()), waiting=len(in_amd) + len(waiting),
                        abandon_cap=world.abandon_cap, ring_timeout=world.ring_timeout)
        t0 = time.perf_counter()
        wanted = pacer.lines_to_launch(snap)
        spent = time.perf_counter() - t0
        stats["decisions"] += 1
        stats["decide_s"] += spent
        stats["decide_max"] = max(stats["decide_max"], spent)
        answer = world.answer_at(world.start_hour + (now - START) / 3600.0)
        for _ in range(max(0, int(wanted))):
            stats["dials"] += 1
            slot(now)["dials"] += 1
            line = stats["dials"]
            lines[line] = now
            kind, after = draw_outcome(rng, world, answer)
            push(now + after, RESULT, line)
            outcome[line] = kind

    def ask_for_agent(line: int, answered: float, now: float) -> None:
        if ready:
            connect(ready.popleft(), now, answered)
        else:
            waiting.append((line, answered))
            push(now + world.hold, HOLD_END, line)

    outcome: dict[int, str] = {}
    answered_at: dict[int, float] = {}
    push(START, TICK, 0)
    while events:
        now, _, kind, data = heapq.heappop(events)
        if now > end + 3600.0:
            break
        if kind == TICK:
            if now < end:
                decide(now)
                push(now + 1.0, TICK, 0)
        elif kind == RESULT:
            started = lines.pop(data)
            result = outcome.pop(data)
            pacer.on_result(now, result, now - started)
            if result == "live" and now < end:
                stats["lives"] += 1
                slot(now)["lives"] += 1
                if world.amd > 0:
                    in_amd.add(data)
                    answered_at[data] = now
                    push(now + world.amd, AMD_END, data)
                else:
                    ask_for_agent(data, now, now)
        elif kind == AMD_END:
            in_amd.discard(data)
            ask_for_agent(data, answered_at.pop(data), now)
        elif kind == HOLD_END:
            for i, (call, answered) in enumerate(waiting):
                if call == data:
                    del waiting[i]
                    stats["abandons"] += 1
                    slot(answered)["abandons"] += 1
                    pacer.on_abandoned(now)
                    break
        elif kind == TALK_END:
            pacer.on_talk_end(now, now - since[data])
            set_state(data, "wrap_up", now)
            push(now + world.wrap, WRAP_END, data)
        elif kind == WRAP_END:
            pacer.on_wrap_end(now, now - since[data])
            set_state(data, "ready", now)
            if waiting:
                _call, answered = waiting.popleft()
                connect(data, now, answered)
            else:
                ready.append(data)
                decide(now)
    for agent in range(n):
        if state[agent] == "ready":
            stats["idle"] += max(0.0, end - since[agent])
    agent_hours = n * world.hours
    per_hour = []
    for h, row in enumerate(hourly):
        length = min(1.0, world.hours - h)
        per_hour.append({
            "hour": world.start_hour + h,
            "talk_min_per_agent_hour": row["talk"] / 60.0 / (n * length),
            "abandon_pct": 100.0 * row["abandons"] / max(1, row["lives"]),
            "lives": row["lives"], "abandons": row["abandons"], "dials": row["dials"],
        })
    return {
        "talk_min_per_agent_hour": stats["talk"] / 60.0 / agent_hours,
        "abandon_pct": 100.0 * stats["abandons"] / max(1, stats["lives"]),
        "dials_per_hour": stats["dials"] / world.hours,
        "idle_pct": 100.0 * stats["idle"] / (agent_hours * 3600.0),
        "lives": stats["lives"], "abandons": stats["abandons"], "dials": stats["dials"],
        "decide_us": 1e6 * stats["decide_s"] / max(1, stats["decisions"]),
        "decide_max_us": 1e6 * stats["decide_max"],
        "hours": per_hour,
    }
