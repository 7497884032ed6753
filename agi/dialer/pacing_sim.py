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
TICK, RESULT, HOLD_END, TALK_END, WRAP_END = range(5)


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


def draw_outcome(rng: random.Random, world: World) -> tuple[str, float]:
    """(kind, seconds from dial to result). The non-answered, non-dead rest: 65% no answer
    (rings out), 28% busy, 7% congestion, as in bench/dialer_sim.py."""
    u = rng.random()
    if u < world.answer:
        ring = rng.uniform(*world.ring)
        return ("live", ring) if ring <= world.ring_timeout else ("noanswer", world.ring_timeout)
    if u < world.answer + world.dead:
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
    waiting: deque[tuple[int, float]] = deque()
    events: list = []
    seq = 0
    stats = dict(dials=0, lives=0, abandons=0, talk=0.0, idle=0.0, decisions=0, decide_s=0.0, decide_max=0.0)

    def push(t: float, kind: int, data: int) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, seq, kind, data))

    def set_state(agent: int, new: str, now: float) -> None:
        if state[agent] == "ready":
            stats["idle"] += min(now, end) - min(since[agent], end)
        state[agent], since[agent] = new, now

    def connect(agent: int, now: float) -> None:
        set_state(agent, "on_call", now)
        talk = rng.lognormvariate(mu, world.talk_sigma)
        stats["talk"] += max(0.0, min(now + talk, end) - now)
        push(now + talk, TALK_END, agent)

    def decide(now: float) -> None:
        if now >= end:
            return
        snap = Snapshot(now=now, agents=tuple(AgentView(state[i], now - since[i]) for i in range(n)),
                        lines=tuple(now - t for t in lines.values()), waiting=len(waiting),
                        abandon_cap=world.abandon_cap, ring_timeout=world.ring_timeout)
        t0 = time.perf_counter()
        wanted = pacer.lines_to_launch(snap)
        spent = time.perf_counter() - t0
        stats["decisions"] += 1
        stats["decide_s"] += spent
        stats["decide_max"] = max(stats["decide_max"], spent)
        for _ in range(max(0, int(wanted))):
            stats["dials"] += 1
            line = stats["dials"]
            lines[line] = now
            kind, after = draw_outcome(rng, world)
            push(now + after, RESULT, line if kind == "live" else -line)
            outcome[line] = kind

    outcome: dict[int, str] = {}
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
            line = abs(data)
            started = lines.pop(line)
            result = outcome.pop(line)
            pacer.on_result(now, result, now - started)
            if result == "live" and now < end:
                stats["lives"] += 1
                if ready:
                    connect(ready.popleft(), now)
                    pacer.on_connected(now, 0.0)
                else:
                    waiting.append((line, now))
                    push(now + world.hold, HOLD_END, line)
        elif kind == HOLD_END:
            for i, (call, _answered) in enumerate(waiting):
                if call == data:
                    del waiting[i]
                    stats["abandons"] += 1
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
                connect(data, now)
                pacer.on_connected(now, now - answered)
            else:
                ready.append(data)
                decide(now)
    for agent in range(n):
        if state[agent] == "ready":
            stats["idle"] += max(0.0, end - since[agent])
    agent_hours = n * world.hours
    return {
        "talk_min_per_agent_hour": stats["talk"] / 60.0 / agent_hours,
        "abandon_pct": 100.0 * stats["abandons"] / max(1, stats["lives"]),
        "dials_per_hour": stats["dials"] / world.hours,
        "idle_pct": 100.0 * stats["idle"] / (agent_hours * 3600.0),
        "lives": stats["lives"], "abandons": stats["abandons"], "dials": stats["dials"],
        "decide_us": 1e6 * stats["decide_s"] / max(1, stats["decisions"]),
        "decide_max_us": 1e6 * stats["decide_max"],
    }
