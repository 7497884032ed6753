"""Pacers on a model of the campaign (agi.dialer.pacing_sim): a fast, seeded tool for tuning.
Prints figures; it is not a test. The official benchmark, with the real dialer against the PBX
simulator, is bench/dialer_sim.py.

Worlds (--worlds; every world parameter is also a flag, which overrides the world's value):
  base    20 agents, 30% live answers
  lunch   20 agents, answers 30% -> 10% at 12:00 -> 30% at 13:30 (--answer-profile 9:0.3,12:0.1,13.5:0.3)
  few     4 agents on long calls (talk mean 600 s)
  big     500 agents, 30% live answers (2 hours: it is the slow one)
Common to all: starting at 09:00 with no history (the first hour is the cold start), talk
lognormal (mean 150 s, sigma 0.8 of log), wrap-up 20 s, 20% dead numbers failing in 1-3 s,
ring-to-answer 5-25 s, the rest no answer (ring out at 25 s), busy and congestion; a live answer
spends 2 s in AMD (counted as waiting), then waits up to 2 s for an agent, else it is abandoned;
abandon cap 3%.

    python bench/pacing_model.py                                   # every world, every pacer
    python bench/pacing_model.py --worlds lunch --seeds 1,2,3 --pacers predictive,adapt_tapered
    python bench/pacing_model.py --worlds base --agents 50 --answer-profile 9:0.3,11:0.15

Per world and pacer: talk minutes per agent-hour and abandon % (abandoned / live answers) in
each clock hour and over the day, then dials per hour, agent idle % and the pacer's mean / worst
time per decision. Hours over the cap are marked '!'; in each hour the figures are summed over
the seeds.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agi.dialer.pacing import make_pacer  # noqa: E402
from agi.dialer.pacing_sim import World, parse_profile, simulate  # noqa: E402

from bench.world_flags import (COUNT, NATURAL, NON_NEGATIVE, POSITIVE, SHARE,  # noqa: E402
                               check, ints)

PACERS = ("predictive", "progressive", "adapt_tapered", "naive")
COMMON = dict(amd=2.0, start_hour=9.0, hours=8.0)
WORLDS = {
    "base": dict(agents=20, answer=0.30),
    "lunch": dict(agents=20, answer_profile=parse_profile("9:0.3,12:0.1,13.5:0.3")),
    "few": dict(agents=4, answer=0.30, talk_mean=600.0),
    "big": dict(agents=500, answer=0.30, hours=2.0),
}
FLAGS = {  # World field: help
    "agents": "agents", "answer": "live answer share of dials", "dead": "dead-number share",
    "hours": "hours simulated", "talk_mean": "mean talk seconds (lognormal)",
    "talk_sigma": "sigma of log(talk)", "wrap": "wrap-up seconds", "ring_timeout": "ring timeout s",
    "hold": "seconds an answer waits for an agent", "amd": "AMD seconds after the answer",
    "abandon_cap": "abandon cap (fraction)", "start_hour": "local clock hour of the start",
}


def world_of(name: str, args, seed: int) -> World:
    given = {f: getattr(args, f) for f in FLAGS if getattr(args, f) is not None}
    if args.answer_profile is not None:
        given["answer_profile"] = parse_profile(args.answer_profile)
    return World(**{**COMMON, **WORLDS[name], **given, "seed": seed})


def run(name: str, mode: str, args, seeds: list[int]) -> tuple[World, list[dict]]:
    world = world_of(name, args, seeds[0])
    return world, [simulate(make_pacer(mode), dataclasses.replace(world, seed=s)) for s in seeds]


def hourly(runs: list[dict], agents: int) -> list[tuple[float, float, float, bool]]:
    """(clock hour, talk min/agent-hour, abandon %, over the cap) per hour, summed over runs."""
    rows = []
    for h in range(len(runs[0]["hours"])):
        cells = [r["hours"][h] for r in runs]
        lives = sum(c["lives"] for c in cells)
        abandons = sum(c["abandons"] for c in cells)
        talk = sum(c["talk_min_per_agent_hour"] for c in cells) / len(cells)
        rows.append((cells[0]["hour"], talk, 100.0 * abandons / max(1, lives), abandons > 0.03 * lives))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", default=",".join(WORLDS), help=f"of {', '.join(WORLDS)}")
    parser.add_argument("--pacers", default=",".join(PACERS))
    parser.add_argument("--seeds", type=ints, default="1",
                        help="comma-separated; figures are summed/averaged")
    for field, text in FLAGS.items():
        kind = type(getattr(World(), field))
        parser.add_argument("--" + field.replace("_", "-"), type=kind, default=None, help=text)
    parser.add_argument("--answer-profile", default=None,
                        help="answer rate over the day, local hour:rate, e.g. 9:0.3,12:0.1,13.5:0.3")
    args = parser.parse_args(argv)
    check(parser, args, {"seeds": NATURAL, "agents": COUNT, "answer": SHARE, "dead": SHARE,
                         "hours": POSITIVE, "talk_mean": POSITIVE, "talk_sigma": NON_NEGATIVE,
                         "wrap": NON_NEGATIVE, "ring_timeout": POSITIVE, "hold": NON_NEGATIVE,
                         "amd": NON_NEGATIVE, "abandon_cap": SHARE, "start_hour": NON_NEGATIVE})
    if args.answer is not None and args.dead is not None and args.answer + args.dead > 1:
        parser.error("--answer and --dead add up to more than the whole (1)")
    unknown = [p for p in args.pacers.split(",") if p not in PACERS]
    if unknown:
        parser.error(f"--pacers: unknown {', '.join(unknown)} (of {', '.join(PACERS)})")
    seeds = args.seeds
    names = args.worlds.split(",")
    unknown = [n for n in names if n not in WORLDS]
    if unknown:
        parser.error(f"--worlds: unknown {', '.join(unknown)} (of {', '.join(WORLDS)})")
    try:
        for name in names:
            world_of(name, args, 1)
    except ValueError as exc:
        parser.error(str(exc))
    started = time.perf_counter()
    for name in names:
        table = {mode: run(name, mode, args, seeds) for mode in args.pacers.split(",")}
        world = next(iter(table.values()))[0]
        print(f"\n== {name}: {world.agents} agents, answer "
              f"{'profile ' + str(world.answer_profile) if world.answer_profile else world.answer}, "
              f"talk {world.talk_mean:.0f} s, AMD {world.amd} s, hold {world.hold} s, seeds {','.join(map(str, seeds))}")
        hours = [row[0] for row in hourly(table[next(iter(table))][1], world.agents)]
        print(f"{'pacer':<14}{'':>10}" + "".join(f"{h:>8.1f}" for h in hours) + f"{'day':>8}"
              f"{'dials/h':>9}{'idle %':>8}{'us/dec':>8}{'worst':>8}")
        for mode, (_, runs) in table.items():
            rows = hourly(runs, world.agents)
            avg = {k: sum(r[k] for r in runs) / len(runs) for k in runs[0] if k != "hours"}
            lives = sum(r["lives"] for r in runs)
            day_abandon = 100.0 * sum(r["abandons"] for r in runs) / max(1, lives)
            print(f"{mode:<14}{'talk':>10}" + "".join(f"{t:>8.1f}" for _, t, _, _ in rows)
                  + f"{avg['talk_min_per_agent_hour']:>8.1f}{avg['dials_per_hour']:>9.0f}"
                  f"{avg['idle_pct']:>8.1f}{avg['decide_us']:>8.0f}"
                  f"{max(r['decide_max_us'] for r in runs):>8.0f}")
            print(f"{'':<14}{'abandon %':>10}" + "".join(f"{a:>7.2f}{'!' if over else ' '}" for _, _, a, over in rows)
                  + f"{day_abandon:>7.2f}{'!' if day_abandon > 3.0 else ' '}", flush=True)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
